'use client';
/**
 * The VM's console: a Graphical tab (noVNC) and a Serial tab (xterm.js). The VM page loads this with
 * next/dynamic (ssr: false) when its Console tab opens, and /vm/console?id=<id> (the pop-out window)
 * renders it full-window. noVNC and xterm.js themselves are imported only once their tab connects.
 *
 * A VM without a QEMU process gets a clear placeholder with a Start button instead of a canvas; the
 * serial tab still shows the output of the last run under a notice. When the VM starts (the live
 * VmView changes), the consoles connect by themselves.
 *
 * Viewers get view-only consoles: their tickets are view-only and the server drops their input.
 *
 * Test ids: console-panel, console-tab-vnc, console-tab-serial, console-not-running, console-start,
 * plus those of VncConsole / VncToolbar / SerialConsole.
 */
import { useId, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { errorMessage } from '@/components/api';
import { useSession } from '@/components/session';
import { Button } from '@/components/ui/Button';
import { PlayIcon } from '@/components/ui/icons';
import { runVmAction } from '@/components/vm/useVmAction';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { hasQemu } from './connection';
import { SerialConsole } from './SerialConsole';
import { VncConsole } from './VncConsole';

type Tab = 'vnc' | 'serial';

const STATE_TEXT: Partial<Record<VmView['state'], string>> = {
  shutoff: 'is shut off',
  crashed: 'has crashed',
  stopping: 'is stopping',
  'shutting-down': 'is shutting down',
};

function StartButton({ vm, canEdit, compact = false }: { vm: VmView; canEdit: boolean; compact?: boolean }) {
  const { upsert } = useVmEvents();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const startable = vm.state === 'shutoff' || vm.state === 'crashed';
  if (!canEdit) return <p className="muted text-sm">Ask an operator to start it.</p>;
  return (
    <div className={compact ? 'flex items-center gap-2' : 'mt-4 flex flex-col items-center gap-2'}>
      <Button
        variant="primary"
        size={compact ? 'sm' : 'md'}
        icon={<PlayIcon />}
        busy={busy}
        disabled={!startable}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            upsert(await runVmAction(vm, 'start'));
          } catch (e) {
            setError(errorMessage(e));
          } finally {
            setBusy(false);
          }
        }}
        data-testid="console-start"
      >
        Start
      </Button>
      {error && (
        <p className="text-sm text-red-700 dark:text-red-400" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function NotRunning({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  return (
    <div className="flex h-[50vh] min-h-[280px] flex-col items-center justify-center rounded-lg border border-dashed border-slate-300 bg-slate-100 p-6 text-center dark:border-slate-700 dark:bg-slate-900" data-testid="console-not-running">
      <p className="text-base font-semibold">
        “{vm.name}” {STATE_TEXT[vm.state] ?? 'is not running'}
      </p>
      <p className="muted mt-1 max-w-md text-sm">The graphical console appears here once the VM runs, and connects by itself.</p>
      {vm.state === 'crashed' && vm.stateReason && <p className="mt-2 max-w-xl text-xs break-words text-red-700 dark:text-red-400">{vm.stateReason}</p>}
      <StartButton vm={vm} canEdit={canEdit} />
    </div>
  );
}

export default function ConsolePanel({ vm, popout = false }: { vm: VmView; popout?: boolean }) {
  const { canEdit } = useSession();
  const [tab, setTab] = useState<Tab>('vnc');
  const live = hasQemu(vm);
  const ids = useId();
  const tabs: { key: Tab; label: string }[] = [
    { key: 'vnc', label: 'Graphical' },
    { key: 'serial', label: 'Serial' },
  ];

  return (
    <section className={popout ? 'flex h-screen flex-col' : 'flex flex-col gap-2'} data-testid="console-panel" aria-label={`Console of ${vm.name}`}>
      <div role="tablist" aria-label="Console type" className={`flex gap-1 ${popout ? 'bg-slate-900 px-2 pt-1' : ''}`}>
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`${ids}-tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`${ids}-panel`}
            className={`rounded-t-md border-b-2 px-3 py-1.5 text-sm font-medium ${
              tab === t.key ? 'border-sky-600 text-sky-700 dark:text-sky-400' : 'border-transparent text-slate-500 hover:text-slate-800 dark:hover:text-slate-200'
            } ${popout && tab !== t.key ? 'text-slate-400' : ''}`}
            onClick={() => setTab(t.key)}
            data-testid={`console-tab-${t.key}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div id={`${ids}-panel`} role="tabpanel" aria-labelledby={`${ids}-tab-${tab}`} className={popout ? 'min-h-0 flex-1' : ''}>
        {tab === 'vnc' &&
          (live ? <VncConsole key={vm.id} vm={vm} forceViewOnly={!canEdit} popout={popout} /> : <NotRunning vm={vm} canEdit={canEdit} />)}
        {tab === 'serial' && (
          <>
            {!live && (
              <div className="mb-2 flex flex-wrap items-center gap-3 rounded-md border border-slate-300 bg-slate-100 px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-900" data-testid="console-not-running">
                <span>
                  “{vm.name}” {STATE_TEXT[vm.state] ?? 'is not running'}: this is the output of its last run.
                </span>
                <StartButton vm={vm} canEdit={canEdit} compact />
              </div>
            )}
            <SerialConsole key={vm.id} vm={vm} viewOnly={!canEdit} live={live} popout={popout && live} />
          </>
        )}
      </div>
    </section>
  );
}
