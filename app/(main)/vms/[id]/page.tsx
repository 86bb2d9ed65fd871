/** /vms/[id]: one VM, virt-manager style (hardware list on the left, editor on the right). `?tab=` picks the item. */
import type { Metadata } from 'next';
import { VmDetails } from './_components/VmDetails';

export const metadata: Metadata = { title: 'Virtual machine' };

export default async function VmPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const sp = await searchParams;
  const tab = Array.isArray(sp.tab) ? sp.tab[0] : sp.tab;
  return <VmDetails id={id} initialTab={tab ?? 'overview'} />;
}
