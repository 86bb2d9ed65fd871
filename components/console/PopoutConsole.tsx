'use client';
/**
 * The pop-out console window (/vm/console?id=<id>): only the console, filling the window. It lives outside
 * the (main) route group so it has no header, and so brings its own session and live VM providers
 * (one /ws/events connection, which keeps the VM state current for reconnects and the Start button).
 *
 * Test ids: console-popout, console-popout-missing.
 */
import { useEffect, useState } from 'react';
import { useSearchParams } from 'next/navigation';
import type { VmView } from '@/lib/schemas';
import { api, errorMessage } from '@/components/api';
import { SessionProvider } from '@/components/session';
import { useVmEvents, VmEventsProvider } from '@/components/vm/useVmEvents';
import ConsolePanel from './ConsolePanel';

function Inner({ id }: { id: string }) {
  const { vms, upsert } = useVmEvents();
  const vm = vms.get(id);
  const [missing, setMissing] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    api<VmView>('GET', `/api/vms/${encodeURIComponent(id)}`)
      .then((v) => live && upsert(v))
      .catch((e) => live && setMissing(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [id, upsert]);

  useEffect(() => {
    if (vm) document.title = `${vm.name} · Console`;
  }, [vm]);

  if (!vm) {
    return (
      <p className="p-6 text-sm text-slate-300" data-testid={missing ? 'console-popout-missing' : undefined}>
        {missing ?? 'Loading…'}
      </p>
    );
  }
  return <ConsolePanel vm={vm} popout />;
}

/** The page's content: the VM named by `?id=` (the page is static, so this is read client side). */
export function PopoutConsoleFromQuery() {
  const id = useSearchParams().get('id') ?? '';
  return <PopoutConsole key={id} id={id} />;
}

export default function PopoutConsole({ id }: { id: string }) {
  return (
    <SessionProvider>
      <VmEventsProvider>
        <div className="h-screen overflow-hidden bg-slate-950 text-slate-100" data-testid="console-popout">
          <Inner id={id} />
        </div>
      </VmEventsProvider>
    </SessionProvider>
  );
}
