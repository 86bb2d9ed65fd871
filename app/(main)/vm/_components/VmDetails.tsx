'use client';
/**
 * The VM details page, virt-manager style: lifecycle buttons in the header, a list of hardware on
 * the left (Overview, CPUs, Memory, Boot options, each disk, CD-ROM, each NIC, Display/Video,
 * Serial, Console) and the selected item's editor on the right. The item is in the URL (?tab=), so
 * /vm?id=<id>&tab=console opens the console directly. The VM comes live from useVmEvents(); a GET
 * on mount covers a direct visit and tells a missing VM apart.
 *
 * Test ids: vm-title, vm-state, vm-action-<action>, add-hardware, delete-vm, hw-item-<item>
 * (overview, cpus, memory, boot, disk-<id>, cdrom, nic-<id>, video, serial, console),
 * hw-pending-<item>, vm-crash-reason, vm-shutdown-ignored, vm-not-found, vm-deleted; hotplug-result / hotplug-error (the live region
 * saying what the last hotplug did, see components/vm/useHotplug.tsx).
 */
import dynamic from 'next/dynamic';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatMiB } from '@/components/format';
import { useSession } from '@/components/session';
import { Button } from '@/components/ui/Button';
import { PlusIcon, TrashIcon, WarningIcon } from '@/components/ui/icons';
import { useToast } from '@/components/ui/Toast';
import { DeleteVmDialog } from '@/components/vm/DeleteVmDialog';
import { DeviceStateBadge } from '@/components/vm/DeviceStateBadge';
import { StateBadge } from '@/components/vm/StateBadge';
import { VmActions } from '@/components/vm/VmActions';
import { HotplugReportProvider, HotplugStatus, useHotplugReport } from '@/components/vm/useHotplug';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { AddHardwareDialog } from './AddHardwareDialog';
import { BootEditor } from './BootEditor';
import { CpuEditor, MemoryEditor } from './CpuMemoryEditors';
import { CdromEditor, DiskEditor, NicEditor, VideoEditor } from './DeviceEditors';
import { OverviewPane } from './OverviewPane';
import { SerialPane } from './SerialPane';

// The console (noVNC + xterm.js) is heavy and browser-only: load it when its tab opens.
const ConsolePanel = dynamic(() => import('@/components/console/ConsolePanel'), {
  ssr: false,
  loading: () => <p className="card muted p-6 text-sm">Loading the console…</p>,
});

interface Item {
  key: string;
  label: string;
  sub?: string;
  /** Top-level config fields this item edits (for the pending dot). */
  fields: string[];
  /** A disk or NIC: its per-device state decides the dot when the server reports one. */
  device?: string;
  /** A device the running VM still has although the config no longer does (removal pending). */
  gone?: { id: string; kind: 'disk' | 'nic' };
}

function hardwareItems(vm: VmView): Item[] {
  return [
    { key: 'overview', label: 'Overview', fields: ['name', 'machine', 'osPreset'] },
    { key: 'cpus', label: 'CPUs', sub: `${vm.vcpus} of max ${vm.maxVcpus}`, fields: ['vcpus', 'maxVcpus'] },
    { key: 'memory', label: 'Memory', sub: formatMiB(vm.memoryMiB), fields: ['memoryMiB', 'maxMemoryMiB', 'balloonMiB'] },
    { key: 'boot', label: 'Boot options', sub: vm.kernel ? 'direct kernel' : vm.bootOrder.join(', '), fields: ['bootOrder', 'kernel'] },
    ...vm.disks.map((d) => ({ key: `disk-${d.id}`, label: `Disk ${d.id}`, sub: `${d.bus} · ${d.volume.split('/')[1]}`, fields: ['disks'], device: d.id })),
    ...goneDevices(vm, 'disk'),
    { key: 'cdrom', label: 'CD-ROM', sub: vm.cdrom ? vm.cdrom.split('/')[1] : 'empty', fields: ['cdrom'] },
    ...vm.nics.map((n) => ({ key: `nic-${n.id}`, label: `NIC ${n.id}`, sub: `${n.model} · ${n.mac}`, fields: ['nics'], device: n.id })),
    ...goneDevices(vm, 'nic'),
    { key: 'video', label: 'Display / Video', sub: vm.video, fields: ['video'] },
    { key: 'serial', label: 'Serial', sub: 'output log', fields: [] },
    { key: 'console', label: 'Console', fields: [] },
  ];
}

/** Disks/NICs removed from the config that the running VM still has (until unplugged or the next boot). */
function goneDevices(vm: VmView, kind: 'disk' | 'nic'): Item[] {
  const inConfig = new Set(kind === 'disk' ? vm.disks.map((d) => d.id) : vm.nics.map((n) => n.id));
  return Object.entries(vm.devices ?? {})
    .filter(([id, st]) => st.kind === kind && !inConfig.has(id))
    .map(([id, st]) => ({
      key: `gone-${id}`,
      label: `${kind === 'disk' ? 'Disk' : 'NIC'} ${id}`,
      sub: st.state === 'unplugging' ? 'unplugging…' : 'removed at next boot',
      fields: [],
      gone: { id, kind },
    }));
}

function isPending(vm: VmView, it: Item, pendingFields: Set<string>): boolean {
  if (it.gone) return true;
  if (it.device && vm.devices) return (vm.devices[it.device]?.state ?? 'live') !== 'live';
  return it.fields.some((f) => pendingFields.has(f));
}

export function VmDetails(props: { id: string; initialTab: string }) {
  return (
    <HotplugReportProvider>
      <Details {...props} />
    </HotplugReportProvider>
  );
}

function Details({ id, initialTab }: { id: string; initialTab: string }) {
  const { vms, loaded, upsert } = useVmEvents();
  const { setReport } = useHotplugReport();
  const { canEdit } = useSession();
  const toast = useToast();
  const router = useRouter();
  const vm = vms.get(id);
  const [selected, setSelected] = useState(initialTab);
  const [missing, setMissing] = useState<string | null>(null);
  const [deleted, setDeleted] = useState(false);
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const seen = useRef(false);
  const selfDeleted = useRef(false);

  useEffect(() => {
    let live = true;
    api<VmView>('GET', `/api/vms/${encodeURIComponent(id)}`)
      .then((v) => live && upsert(v))
      .catch((e) => {
        if (!live) return;
        if (e instanceof ApiRequestError && (e.code === 'VM_NOT_FOUND' || e.status === 404 || e.code === 'VALIDATION_FAILED')) setMissing(e.message);
        else toast.error(errorMessage(e), 'Could not load the VM');
      });
    return () => {
      live = false;
    };
  }, [id, upsert, toast]);

  // A navigation to this same page with another ?tab= (the component instance stays).
  useEffect(() => setSelected(initialTab), [initialTab]);

  useEffect(() => {
    if (vm?.name) document.title = `${vm.name} · WebVMM`;
  }, [vm?.name]);

  // Deleted while we look at it (here or elsewhere).
  useEffect(() => {
    if (vm) seen.current = true;
    else if (seen.current && loaded && !selfDeleted.current) setDeleted(true);
  }, [vm, loaded]);

  const select = useCallback((key: string) => {
    setSelected(key);
    // On a phone the list is a horizontal strip: keep the chosen item in view.
    requestAnimationFrame(() => document.querySelector(`[data-testid="hw-item-${key}"]`)?.scrollIntoView({ block: 'nearest', inline: 'nearest' }));
    const url = new URL(window.location.href);
    if (key === 'overview') url.searchParams.delete('tab');
    else url.searchParams.set('tab', key);
    window.history.replaceState(null, '', url.pathname + url.search);
  }, []);

  if (missing || deleted) {
    return (
      <div className="card p-8 text-center" data-testid={deleted ? 'vm-deleted' : 'vm-not-found'}>
        <p className="font-medium">{deleted ? 'This VM was deleted.' : 'There is no such VM.'}</p>
        {missing && <p className="muted mt-1 text-sm">{missing}</p>}
        <Link href="/" className="link mt-4 inline-block">
          Back to the dashboard
        </Link>
      </div>
    );
  }
  if (!vm) {
    return (
      <p className="muted p-6 text-sm" aria-busy="true">
        Loading…
      </p>
    );
  }

  const items = hardwareItems(vm);
  const current = items.find((i) => i.key === selected) ?? items[0];
  const pendingFields = new Set(vm.pending.map((p) => p.field));
  const disk = current.key.startsWith('disk-') ? vm.disks.find((d) => `disk-${d.id}` === current.key) : undefined;
  const nic = current.key.startsWith('nic-') ? vm.nics.find((n) => `nic-${n.id}` === current.key) : undefined;

  return (
    <div className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link href="/" className="link">
          Dashboard
        </Link>
        <span className="muted"> / {vm.name}</span>
      </nav>

      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h1 className="min-w-0 truncate text-xl font-semibold" data-testid="vm-title">
          {vm.name}
        </h1>
        <StateBadge state={vm.state} testId="vm-state" />
        <div className="flex w-full flex-wrap items-center gap-2 sm:ml-auto sm:w-auto">
          <VmActions vm={vm} withReset />
          {canEdit && (
            <>
              <Button icon={<PlusIcon />} onClick={() => setAdding(true)} data-testid="add-hardware">
                Add hardware
              </Button>
              <Button icon={<TrashIcon />} onClick={() => setDeleting(true)} data-testid="delete-vm" className="text-red-700 dark:text-red-400">
                Delete
              </Button>
            </>
          )}
        </div>
      </div>

      {vm.state === 'crashed' && vm.stateReason && (
        <div className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950/40 dark:text-red-100" role="alert">
          <p className="flex items-center gap-2 font-medium">
            <WarningIcon /> The VM crashed. QEMU said:
          </p>
          <pre className="mt-2 max-h-48 overflow-auto font-mono text-xs whitespace-pre-wrap" data-testid="vm-crash-reason">
            {vm.stateReason}
          </pre>
        </div>
      )}
      {vm.shutdownIgnored && (
        <div className="flex flex-wrap items-center gap-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950/40 dark:text-amber-100" role="status" data-testid="vm-shutdown-ignored">
          <WarningIcon />
          The guest has not acted on the shutdown request. Use <strong>Force off</strong> to cut its power.
        </div>
      )}

      <div className="grid grid-cols-1 gap-4 md:grid-cols-[15rem_minmax(0,1fr)]">
        <nav aria-label="Hardware" className="md:self-start">
          <ul className="relative -mx-3 flex gap-1 overflow-x-auto px-3 pb-1 md:mx-0 md:flex-col md:overflow-visible md:px-0 md:pb-0 card md:p-1.5">
            {items.map((it) => {
              const active = it.key === current.key;
              const pend = isPending(vm, it, pendingFields);
              return (
                <li key={it.key} className="shrink-0">
                  <button
                    type="button"
                    onClick={() => {
                      // The last hotplug result belongs to the item it was made on.
                      if (it.key !== current.key) setReport(null);
                      select(it.key);
                    }}
                    aria-current={active ? 'true' : undefined}
                    data-testid={`hw-item-${it.key}`}
                    className={`flex w-full items-center gap-2 rounded-md px-3 py-2 text-left text-sm ${
                      active ? 'bg-sky-100 text-sky-900 dark:bg-sky-900/50 dark:text-sky-100' : 'hover:bg-slate-100 dark:hover:bg-slate-800'
                    }`}
                  >
                    <span className="min-w-0 flex-1">
                      <span className="block font-medium whitespace-nowrap">{it.label}</span>
                      {it.sub && <span className="muted hidden truncate text-xs md:block">{it.sub}</span>}
                    </span>
                    {pend && (
                      <span className="h-2 w-2 shrink-0 rounded-full bg-amber-500" title="Has changes that apply at next boot" data-testid={`hw-pending-${it.key}`}>
                        <span className="sr-only">(changes apply at next boot)</span>
                      </span>
                    )}
                  </button>
                </li>
              );
            })}
          </ul>
        </nav>

        <div className="min-w-0">
          <HotplugStatus />
          {current.key === 'overview' && <OverviewPane key={vm.id} vm={vm} canEdit={canEdit} />}
          {current.key === 'cpus' && <CpuEditor vm={vm} canEdit={canEdit} />}
          {current.key === 'memory' && <MemoryEditor vm={vm} canEdit={canEdit} />}
          {current.key === 'boot' && <BootEditor vm={vm} canEdit={canEdit} />}
          {disk && <DiskEditor key={disk.id} vm={vm} disk={disk} canEdit={canEdit} onRemoved={() => select('overview')} />}
          {current.key === 'cdrom' && <CdromEditor vm={vm} canEdit={canEdit} />}
          {nic && <NicEditor key={nic.id} vm={vm} nic={nic} canEdit={canEdit} onRemoved={() => select('overview')} />}
          {current.key === 'video' && <VideoEditor vm={vm} canEdit={canEdit} />}
          {current.gone && <GoneDevicePane vm={vm} id={current.gone.id} kind={current.gone.kind} />}
          {current.key === 'serial' && <SerialPane vm={vm} />}
          {current.key === 'console' && <ConsolePanel vm={vm} />}
        </div>
      </div>

      <AddHardwareDialog
        vm={vm}
        open={adding}
        onClose={() => setAdding(false)}
        onAdded={(item) => {
          setAdding(false);
          select(item);
        }}
      />
      <DeleteVmDialog
        vm={vm}
        open={deleting}
        onClose={() => setDeleting(false)}
        onDeleted={() => {
          selfDeleted.current = true;
          toast.success(`“${vm.name}” was deleted.`);
          router.push('/');
        }}
      />
    </div>
  );
}

function GoneDevicePane({ vm, id, kind }: { vm: VmView; id: string; kind: 'disk' | 'nic' }) {
  const st = vm.devices?.[id];
  return (
    <section className="card p-4 sm:p-5" data-testid={`editor-gone-${id}`} aria-labelledby={`gone-${id}`}>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <h2 id={`gone-${id}`} className="text-base font-semibold">
          {kind === 'disk' ? 'Disk' : 'Network interface'} {id}
        </h2>
        <DeviceStateBadge id={id} state={st} />
      </div>
      <p className="text-sm">
        It is no longer in the configuration, but the running VM still has it
        {st?.state === 'unplugging' ? ': the guest has been asked to release it.' : ' until the next boot.'}
      </p>
      {st?.reason && <p className="muted mt-1 text-sm">{st.reason}</p>}
    </section>
  );
}
