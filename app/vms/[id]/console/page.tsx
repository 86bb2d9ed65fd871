/**
 * /vms/<id>/console: the console alone in its own window (the toolbar's "Pop out"). Outside the (main)
 * route group on purpose: no app header, the console fills the window.
 */
import type { Metadata } from 'next';
import PopoutConsole from '@/components/console/PopoutConsole';

export const metadata: Metadata = { title: 'Console' };

export default async function ConsolePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <PopoutConsole id={id} />;
}
