/** /storage: the default pool's volumes, with create and delete. */
import type { Metadata } from 'next';
import { StorageView } from './_components/StorageView';

export const metadata: Metadata = { title: 'Storage' };

export default function StoragePage() {
  return <StorageView />;
}
