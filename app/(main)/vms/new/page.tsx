/** /vms/new: the create-VM wizard (its own route, so its code loads only when it is opened). */
import type { Metadata } from 'next';
import { CreateVmWizard } from './_components/CreateVmWizard';

export const metadata: Metadata = { title: 'New virtual machine' };

export default function NewVmPage() {
  return <CreateVmWizard />;
}
