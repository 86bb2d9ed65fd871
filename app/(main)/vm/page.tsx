/**
 * /vm?id=<id>[&tab=<item>]: one VM, virt-manager style (hardware list on the left, editor on the
 * right). A query parameter, not a path segment, because the pages are a static export served by
 * our own server (server/http/pages.ts): one HTML file for every VM. The server redirects the older
 * /vms/<id> form here.
 */
import type { Metadata } from 'next';
import { Suspense } from 'react';
import { VmFromQuery } from './_components/VmFromQuery';

export const metadata: Metadata = { title: 'Virtual machine' };

export default function VmPage() {
  return (
    <Suspense fallback={<p className="text-sm text-slate-500">Loading…</p>}>
      <VmFromQuery />
    </Suspense>
  );
}
