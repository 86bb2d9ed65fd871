'use client';
/** Reads `?id=` and `?tab=` (client side: the page is static) and shows that VM. */
import { useSearchParams } from 'next/navigation';
import { VmDetails } from './VmDetails';

export function VmFromQuery() {
  const sp = useSearchParams();
  const id = sp.get('id') ?? '';
  return <VmDetails key={id} id={id} initialTab={sp.get('tab') ?? 'overview'} />;
}
