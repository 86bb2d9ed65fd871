'use client';
/**
 * The dashboard's VM list, live from /ws/events: filter by name, multi-select with bulk Start and
 * Shut down, a CPU sparkline per VM and per-row actions that follow the state. At desktop widths it
 * is a table-like grid; on a phone each VM becomes a compact card (same elements, so test ids are
 * unique at every width).
 *
 * Test ids: vm-filter, vm-select-all, bulk-start, bulk-shutdown, new-vm, vm-list, vm-list-empty,
 * vm-row-<name>, vm-state-<name>, vm-select-<name>, vm-link-<name>, vm-cpu-<name>,
 * vm-action-<action>-<name> (start, shutdown, poweroff, reboot, pause, resume, console).
 */
import Link from 'next/link';
import { useMemo, useState } from 'react';
import type { LifecycleAction, VmView } from '@/lib/schemas';
import { errorMessage } from '@/components/api';
import { formatMiB } from '@/components/format';
import { Button, buttonClass } from '@/components/ui/Button';
import { PlayIcon, PlusIcon, PowerIcon } from '@/components/ui/icons';
import { useToast } from '@/components/ui/Toast';
import { useSession } from '@/components/session';
import { Sparkline } from '@/components/vm/Sparkline';
import { StateBadge } from '@/components/vm/StateBadge';
import { VmActions } from '@/components/vm/VmActions';
import { runVmAction } from '@/components/vm/useVmAction';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { vmHref } from '@/components/vm/links';

const GRID = 'md:grid-cols-[1.5rem_minmax(9rem,1fr)_8rem_4.5rem_6rem_9rem_13rem]';

export function VmList() {
  const { vms, loaded, cpuHistory, upsert } = useVmEvents();
  const { canEdit } = useSession();
  const toast = useToast();
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<Set<string>>(() => new Set());
  const [bulkBusy, setBulkBusy] = useState<'start' | 'shutdown' | null>(null);

  const all = useMemo(() => [...vms.values()].sort((a, b) => a.name.localeCompare(b.name)), [vms]);
  const shown = useMemo(() => {
    const q = filter.trim().toLowerCase();
    return q ? all.filter((v) => v.name.toLowerCase().includes(q)) : all;
  }, [all, filter]);

  // Selection only counts VMs that still exist and are shown.
  const chosen = shown.filter((v) => selected.has(v.id));
  const startable = chosen.filter((v) => v.state === 'shutoff' || v.state === 'crashed');
  const stoppable = chosen.filter((v) => v.state === 'running');
  const allShownSelected = shown.length > 0 && chosen.length === shown.length;

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });

  const bulk = async (action: Extract<LifecycleAction, 'start' | 'shutdown'>, targets: VmView[]) => {
    setBulkBusy(action);
    const results = await Promise.allSettled(targets.map((vm) => runVmAction(vm, action)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') upsert(r.value);
      else toast.error(errorMessage(r.reason), `${action === 'start' ? 'Start' : 'Shut down'} “${targets[i].name}” failed`);
    });
    setBulkBusy(null);
  };

  return (
    <section aria-labelledby="vms-heading" className="card">
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 p-3 dark:border-slate-800">
        <h2 id="vms-heading" className="mr-2 text-base font-semibold">
          Virtual machines <span className="muted font-normal">({all.length})</span>
        </h2>
        <div className="order-last w-full sm:order-none sm:w-56">
          <label htmlFor="vm-filter" className="sr-only">
            Filter by name
          </label>
          <input id="vm-filter" type="search" className="input" placeholder="Filter by name…" value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="vm-filter" />
        </div>
        <div className="ml-auto flex flex-wrap items-center gap-2">
          <Button size="sm" icon={<PlayIcon />} busy={bulkBusy === 'start'} disabled={!canEdit || startable.length === 0 || bulkBusy !== null} onClick={() => bulk('start', startable)} data-testid="bulk-start">
            Start{startable.length > 0 ? ` (${startable.length})` : ''}
          </Button>
          <Button size="sm" icon={<PowerIcon />} busy={bulkBusy === 'shutdown'} disabled={!canEdit || stoppable.length === 0 || bulkBusy !== null} onClick={() => bulk('shutdown', stoppable)} data-testid="bulk-shutdown">
            Shut down{stoppable.length > 0 ? ` (${stoppable.length})` : ''}
          </Button>
          {canEdit && (
            <Link href="/vms/new" className={buttonClass('primary', 'sm')} data-testid="new-vm">
              <PlusIcon /> New VM
            </Link>
          )}
        </div>
      </div>

      {!loaded ? (
        <p className="muted p-6 text-sm" aria-busy="true">
          Loading virtual machines…
        </p>
      ) : all.length === 0 ? (
        <div className="p-10 text-center" data-testid="vm-list-empty">
          <p className="font-medium">No virtual machines yet</p>
          <p className="muted mt-1 text-sm">Create one from an ISO, a disk image or a kernel.</p>
          {canEdit && (
            <Link href="/vms/new" className={`${buttonClass('primary')} mt-4`}>
              <PlusIcon /> New VM
            </Link>
          )}
        </div>
      ) : (
        <div role="table" aria-label="Virtual machines" aria-rowcount={shown.length + 1} data-testid="vm-list">
          <div role="row" className={`hidden items-center gap-x-3 border-b border-slate-200 px-3 py-2 text-xs font-medium tracking-wide text-slate-500 uppercase md:grid dark:border-slate-800 dark:text-slate-400 ${GRID}`}>
            <span role="columnheader">
              <input
                type="checkbox"
                className="h-4 w-4"
                aria-label="Select all shown VMs"
                checked={allShownSelected}
                ref={(el) => {
                  if (el) el.indeterminate = chosen.length > 0 && !allShownSelected;
                }}
                onChange={(e) => setSelected(e.target.checked ? new Set(shown.map((v) => v.id)) : new Set())}
                data-testid="vm-select-all"
              />
            </span>
            <span role="columnheader">Name</span>
            <span role="columnheader">State</span>
            <span role="columnheader">vCPUs</span>
            <span role="columnheader">Memory</span>
            <span role="columnheader">CPU</span>
            <span role="columnheader" className="text-right">
              Actions
            </span>
          </div>
          {shown.length === 0 && <p className="muted p-6 text-sm">No VM matches “{filter}”.</p>}
          {shown.map((vm) => (
            <VmRow key={vm.id} vm={vm} history={cpuHistory.get(vm.id) ?? []} selected={selected.has(vm.id)} onSelect={(on) => toggle(vm.id, on)} />
          ))}
        </div>
      )}
    </section>
  );
}

function VmRow({ vm, history, selected, onSelect }: { vm: VmView; history: number[]; selected: boolean; onSelect: (on: boolean) => void }) {
  const running = vm.runtime !== null;
  return (
    <div
      role="row"
      data-testid={`vm-row-${vm.name}`}
      data-state={vm.state}
      className={`grid grid-cols-[1.5rem_1fr_auto] items-center gap-x-3 gap-y-2 border-b border-slate-100 px-3 py-2.5 last:border-b-0 md:gap-y-0 dark:border-slate-800 ${GRID} ${
        selected ? 'bg-sky-50/70 dark:bg-sky-950/30' : ''
      }`}
    >
      <span role="cell">
        <input type="checkbox" className="h-4 w-4" checked={selected} onChange={(e) => onSelect(e.target.checked)} aria-label={`Select ${vm.name}`} data-testid={`vm-select-${vm.name}`} />
      </span>
      <span role="cell" className="min-w-0">
        <Link href={vmHref(vm.id)} className="link block truncate" data-testid={`vm-link-${vm.name}`}>
          {vm.name}
        </Link>
        <span className="muted block text-xs md:hidden">
          {vm.vcpus} vCPU · {formatMiB(vm.memoryMiB)}
          {running && history.length > 0 && ` · CPU ${Math.round(history[history.length - 1])}%`}
          {vm.pending.length > 0 && ' · changes pending'}
        </span>
        {vm.pending.length > 0 && <span className="muted hidden text-xs md:block">changes apply at next boot</span>}
      </span>
      <span role="cell" className="justify-self-end md:justify-self-start">
        <StateBadge state={vm.state} testId={`vm-state-${vm.name}`} title={vm.stateReason ?? undefined} />
      </span>
      <span role="cell" className="hidden tabular-nums md:block">
        {vm.vcpus}
        {vm.maxVcpus > vm.vcpus && <span className="muted text-xs"> / {vm.maxVcpus}</span>}
      </span>
      <span role="cell" className="hidden tabular-nums md:block">
        {formatMiB(vm.memoryMiB)}
      </span>
      <span role="cell" className="col-start-2 md:col-start-auto" data-testid={`vm-cpu-${vm.name}`}>
        {running ? <Sparkline values={history} label={`CPU use of ${vm.name}`} className="w-20 md:w-24" valueClassName="hidden md:inline" /> : <span className="muted text-xs">—</span>}
      </span>
      <span role="cell" className="col-start-3 justify-self-end md:col-start-auto">
        <VmActions vm={vm} compact showConsole testIdSuffix={vm.name} />
      </span>
    </div>
  );
}
