/**
 * /vm/console?id=<id>: the console alone in its own window (the toolbar's "Pop out"). Outside the
 * (main) route group on purpose: no app header, the console fills the window.
 */
import type { Metadata } from 'next';
import { Suspense } from 'react';
import { PopoutConsoleFromQuery } from '@/components/console/PopoutConsole';

export const metadata: Metadata = { title: 'Console' };

export default function ConsolePage() {
  return (
    <Suspense fallback={null}>
      <PopoutConsoleFromQuery />
    </Suspense>
  );
}
