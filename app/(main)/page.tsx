/** Dashboard: the host summary and the live VM list. */
import type { Metadata } from 'next';
import { HostSummary } from './_components/HostSummary';
import { VmList } from './_components/VmList';

export const metadata: Metadata = { title: 'Dashboard' };

export default function DashboardPage() {
  return (
    <div className="space-y-6">
      <h1 className="sr-only">Dashboard</h1>
      <HostSummary />
      <VmList />
    </div>
  );
}
