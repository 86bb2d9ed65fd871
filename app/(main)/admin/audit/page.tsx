/** /admin/audit: the audit log, filtered by user, VM, action, result and time (admins only). */
import type { Metadata } from 'next';
import { AuditLogView } from './_components/AuditLogView';

export const metadata: Metadata = { title: 'Audit log' };

export default function AuditPage() {
  return <AuditLogView />;
}
