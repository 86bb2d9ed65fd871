'use client';
/**
 * CPUs and Memory editors. On a running VM the server hot-adds vCPUs and DIMMs up to the max
 * (the hotplug headroom, fixed while QEMU runs); anything else is stored as pending.
 *
 * A running VM also gets one-click controls above the form, through the dedicated endpoints
 * (PUT /api/vms/{id}/vcpus and /memory): a vCPU stepper (adding is live; removing is pending on a
 * QEMU that cannot unplug vCPUs safely, with the server's reason) and a memory stepper in 128 MiB
 * DIMM steps with the headroom left, plus the per-vCPU and per-DIMM live state and the guest's own
 * memory numbers when its balloon driver reports them. The result goes to the page's live region.
 *
 * Test ids: field-vcpus, field-maxVcpus, field-memoryMiB, field-maxMemoryMiB, field-balloonMiB,
 * error-<same names>, live-vcpus, live-memory (what the running QEMU has right now),
 * vcpu-stepper, vcpu-dec, vcpu-inc, vcpu-count, vcpu-next-boot, vcpu-hint, vcpu-slots (device-state-cpuN inside),
 * mem-stepper, mem-dec, mem-inc, mem-size, mem-next-boot, mem-headroom, mem-dimms (device-state-dimmN inside),
 * mem-guest-stats.
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { DeviceState, PatchVm, VmView } from '@/lib/schemas';
import type { VmStats } from '@/lib/schemas/hotplug';
import { DIMM_BLOCK_MIB, MAX_VCPUS, MIN_MEMORY_MIB } from '@/lib/schemas';
import { api } from '@/components/api';
import { formatMiB } from '@/components/format';
import { Button } from '@/components/ui/Button';
import { Field } from '@/components/ui/Field';
import { DeviceStateBadge } from '@/components/vm/DeviceStateBadge';
import { useHost } from '@/components/vm/useHost';
import { useHotplug } from '@/components/vm/useHotplug';
import { EditorShell, parseIntField, useDraft, usePatch, type Errors } from './editorKit';

export function CpuEditor({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const host = useHost();
  const { draft, set, dirty, reset, rebase } = useDraft({ vcpus: String(vm.vcpus), maxVcpus: String(vm.maxVcpus) });
  const { save, busy, errors, setErrors, formError, savedAt } = usePatch(vm);

  const onSave = async () => {
    const e: Errors = {};
    const vcpus = parseIntField(draft.vcpus, 'vCPUs');
    const maxVcpus = parseIntField(draft.maxVcpus, 'Max vCPUs');
    if (typeof vcpus === 'string') e.vcpus = vcpus;
    if (typeof maxVcpus === 'string') e.maxVcpus = maxVcpus;
    if (typeof vcpus === 'number' && typeof maxVcpus === 'number' && vcpus > maxVcpus) e.vcpus = `vCPUs (${vcpus}) cannot exceed max vCPUs (${maxVcpus})`;
    if (Object.keys(e).length) return setErrors(e);
    const patch: PatchVm = {};
    if (vcpus !== vm.vcpus) patch.vcpus = vcpus as number;
    if (maxVcpus !== vm.maxVcpus) patch.maxVcpus = maxVcpus as number;
    const r = await save(patch);
    if (r.ok && r.vm) rebase({ vcpus: String(r.vm.vcpus), maxVcpus: String(r.vm.maxVcpus) });
  };

  const running = vm.runtime !== null;
  return (
    <EditorShell item="cpus" title="CPUs" vm={vm} pendingFields={['vcpus', 'maxVcpus']} dirty={dirty} busy={busy} onSave={onSave} onRevert={reset} formError={formError} savedAt={savedAt} canEdit={canEdit}>
      {vm.live && <VcpuStepper vm={vm} live={vm.live} canEdit={canEdit} />}
      {vm.live && (
        <p className="text-sm" data-testid="live-vcpus">
          Running now: <strong>{vm.live.vcpus}</strong> vCPU{vm.live.vcpus === 1 ? '' : 's'} of max {vm.live.maxVcpus}
        </p>
      )}
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="vCPUs" error={errors.vcpus} errorTestId="error-vcpus" hint={running ? `Can be raised live up to max vCPUs (${vm.maxVcpus}).` : host ? `The host has ${host.cpus} CPUs.` : undefined}>
          <input className="input" inputMode="numeric" value={draft.vcpus} onChange={(e) => set('vcpus', e.target.value)} disabled={!canEdit} data-testid="field-vcpus" />
        </Field>
        <Field label="Max vCPUs (hotplug headroom)" error={errors.maxVcpus} errorTestId="error-maxVcpus" hint={`Fixed while the VM runs. At most ${MAX_VCPUS}.`}>
          <input className="input" inputMode="numeric" value={draft.maxVcpus} onChange={(e) => set('maxVcpus', e.target.value)} disabled={!canEdit} data-testid="field-maxVcpus" />
        </Field>
      </div>
    </EditorShell>
  );
}

export function MemoryEditor({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const host = useHost();
  const src = { memoryMiB: String(vm.memoryMiB), maxMemoryMiB: String(vm.maxMemoryMiB), balloonMiB: vm.balloonMiB === null ? '' : String(vm.balloonMiB) };
  const { draft, set, dirty, reset, rebase } = useDraft(src);
  const { save, busy, errors, setErrors, formError, savedAt } = usePatch(vm);

  const onSave = async () => {
    const e: Errors = {};
    const mem = parseIntField(draft.memoryMiB, 'Memory');
    const max = parseIntField(draft.maxMemoryMiB, 'Max memory');
    const balloon = draft.balloonMiB.trim() === '' ? null : parseIntField(draft.balloonMiB, 'Balloon target');
    if (typeof mem === 'string') e.memoryMiB = mem;
    if (typeof max === 'string') e.maxMemoryMiB = max;
    if (typeof balloon === 'string') e.balloonMiB = balloon;
    if (typeof mem === 'number' && typeof max === 'number' && mem > max) e.memoryMiB = `Memory (${mem} MiB) cannot exceed max memory (${max} MiB)`;
    if (typeof mem === 'number' && host && mem > host.memory.totalMiB && !e.memoryMiB) e.memoryMiB = `At most ${host.memory.totalMiB} MiB on this host`;
    if (typeof balloon === 'number' && typeof mem === 'number' && balloon > mem) e.balloonMiB = 'The balloon target cannot exceed the memory';
    if (Object.keys(e).length) return setErrors(e);
    const patch: PatchVm = {};
    if (mem !== vm.memoryMiB) patch.memoryMiB = mem as number;
    if (max !== vm.maxMemoryMiB) patch.maxMemoryMiB = max as number;
    if (balloon !== vm.balloonMiB) patch.balloonMiB = balloon as number | null;
    const r = await save(patch);
    if (r.ok && r.vm) rebase({ memoryMiB: String(r.vm.memoryMiB), maxMemoryMiB: String(r.vm.maxMemoryMiB), balloonMiB: r.vm.balloonMiB === null ? '' : String(r.vm.balloonMiB) });
  };

  const running = vm.runtime !== null;
  return (
    <EditorShell item="memory" title="Memory" vm={vm} pendingFields={['memoryMiB', 'maxMemoryMiB', 'balloonMiB']} dirty={dirty} busy={busy} onSave={onSave} onRevert={reset} formError={formError} savedAt={savedAt} canEdit={canEdit}>
      {vm.live && <MemoryStepper vm={vm} live={vm.live} canEdit={canEdit} />}
      {vm.live && (
        <p className="text-sm" data-testid="live-memory">
          Running now: <strong>{formatMiB(vm.live.memoryMiB)}</strong> of max {formatMiB(vm.live.maxMemoryMiB)}
          {vm.live.balloonMiB !== null && `, balloon target ${formatMiB(vm.live.balloonMiB)}`}
          <span className="muted"> · {vm.live.freeDimmSlots} free DIMM slot{vm.live.freeDimmSlots === 1 ? '' : 's'}</span>
        </p>
      )}
      {host && (
        <p className="muted text-sm">
          The host has {formatMiB(host.memory.totalMiB)}, {formatMiB(host.memory.availableMiB)} of it free.
        </p>
      )}
      <div className="grid gap-4 sm:grid-cols-3">
        <Field label="Memory (MiB)" error={errors.memoryMiB} errorTestId="error-memoryMiB" hint={running ? `Raised live in ${DIMM_BLOCK_MIB} MiB DIMMs up to the max.` : undefined}>
          <input className="input" inputMode="numeric" value={draft.memoryMiB} onChange={(e) => set('memoryMiB', e.target.value)} disabled={!canEdit} data-testid="field-memoryMiB" />
        </Field>
        <Field label="Max memory (MiB)" error={errors.maxMemoryMiB} errorTestId="error-maxMemoryMiB" hint="Hotplug headroom; fixed while the VM runs.">
          <input className="input" inputMode="numeric" value={draft.maxMemoryMiB} onChange={(e) => set('maxMemoryMiB', e.target.value)} disabled={!canEdit} data-testid="field-maxMemoryMiB" />
        </Field>
        <Field label="Balloon target (MiB)" error={errors.balloonMiB} errorTestId="error-balloonMiB" hint="Empty: the guest keeps all of its memory.">
          <input className="input" inputMode="numeric" value={draft.balloonMiB} placeholder="none" onChange={(e) => set('balloonMiB', e.target.value)} disabled={!canEdit} data-testid="field-balloonMiB" />
        </Field>
      </div>
    </EditorShell>
  );
}

type Live = NonNullable<VmView['live']>;

/** Devices of one kind from VmView.devices, in slot order (cpu0, cpu1, … cpu10). */
function devicesOfKind(vm: VmView, kind: DeviceState['kind']): [string, DeviceState][] {
  const num = (id: string) => Number(/\d+$/.exec(id)?.[0] ?? 0);
  return Object.entries(vm.devices ?? {})
    .filter(([, st]) => st.kind === kind)
    .sort(([a], [b]) => num(a) - num(b));
}

/** major.minor of a QEMU version string ("7.2.22", "QEMU emulator version 8.2.2 (…)"). */
function qemuVersion(v: string | null | undefined): [number, number] | null {
  const m = v ? /(\d+)\.(\d+)/.exec(v) : null;
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** A − value + control whose buttons each send one hotplug request. */
function Stepper({
  id,
  label,
  value,
  onDec,
  onInc,
  decLabel,
  incLabel,
  decDisabled,
  incDisabled,
  busy,
  testId,
  note,
  children,
}: {
  id: string;
  label: string;
  value: ReactNode;
  /** Beside the value, e.g. "next boot; running now: 2" when the two differ. */
  note?: ReactNode;
  onDec: () => void;
  onInc: () => void;
  decLabel: string;
  incLabel: string;
  decDisabled: boolean;
  incDisabled: boolean;
  busy: string | null;
  testId: string;
  children?: ReactNode;
}) {
  return (
    <div role="group" aria-labelledby={`${id}-label`} className="rounded-md border border-slate-200 p-3 dark:border-slate-700" data-testid={`${testId}-stepper`}>
      <p id={`${id}-label`} className="label">
        {label}
      </p>
      <div className="flex flex-wrap items-center gap-3">
        <Button size="icon" aria-label={decLabel} title={decLabel} onClick={onDec} disabled={decDisabled || busy !== null} busy={busy === 'dec'} icon={<span aria-hidden className="text-lg leading-none">−</span>} data-testid={`${testId}-dec`} />
        <span className="min-w-[7rem] text-center text-sm tabular-nums" data-testid={`${testId}-${testId === 'vcpu' ? 'count' : 'size'}`}>
          {value}
        </span>
        <Button size="icon" aria-label={incLabel} title={incLabel} onClick={onInc} disabled={incDisabled || busy !== null} busy={busy === 'inc'} icon={<span aria-hidden className="text-lg leading-none">+</span>} data-testid={`${testId}-inc`} />
        {note && (
          <span className="rounded-full bg-amber-100 px-2 py-0.5 text-xs text-amber-900 dark:bg-amber-900/50 dark:text-amber-100" data-testid={`${testId}-next-boot`}>
            {note}
          </span>
        )}
      </div>
      {children}
    </div>
  );
}

function VcpuStepper({ vm, live, canEdit }: { vm: VmView; live: Live; canEdit: boolean }) {
  const host = useHost();
  const { run, busy } = useHotplug(vm);
  const n = vm.vcpus;
  const set = (to: number) => void run(to > n ? 'inc' : 'dec', `vCPUs ${n} → ${to}`, 'PUT', '/vcpus', { count: to });
  const ver = qemuVersion(host?.qemu.version);
  const unsafeUnplug = ver !== null && ver[0] < 8;
  const slots = devicesOfKind(vm, 'cpu');
  return (
    <Stepper
      id="vcpu-stepper"
      label="vCPUs of the running VM"
      value={
        <>
          <strong className="text-base">{n}</strong> of max {vm.maxVcpus}
        </>
      }
      onDec={() => set(n - 1)}
      onInc={() => set(n + 1)}
      decLabel="Remove a vCPU"
      incLabel="Add a vCPU"
      note={n !== live.vcpus ? `at next boot; running now: ${live.vcpus}` : undefined}
      decDisabled={!canEdit || n <= 1}
      incDisabled={!canEdit || n >= vm.maxVcpus}
      busy={busy}
      testId="vcpu"
    >
      <p className="muted mt-2 text-xs" data-testid="vcpu-hint">
        Adding a vCPU is live (up to {live.maxVcpus}, the max this QEMU was started with).{' '}
        {unsafeUnplug
          ? `Removing one is saved for the next boot: live vCPU removal can crash QEMU ${host?.qemu.version ?? ''} on the next hotplug.`
          : 'Removing one asks the guest to release it.'}
      </p>
      {slots.length > 0 && (
        <ul className="mt-2 flex flex-wrap gap-x-3 gap-y-1.5 text-xs" aria-label="vCPU slots" data-testid="vcpu-slots">
          {slots.map(([id, st]) => (
            <li key={id} className="flex items-center gap-1.5">
              <span className="font-mono">{id}</span>
              <DeviceStateBadge id={id} state={st} />
            </li>
          ))}
        </ul>
      )}
    </Stepper>
  );
}

function MemoryStepper({ vm, live, canEdit }: { vm: VmView; live: Live; canEdit: boolean }) {
  const { run, busy } = useHotplug(vm);
  const step = DIMM_BLOCK_MIB;
  const cur = vm.memoryMiB;
  // Growing past what runs must add whole DIMMs to it; at or below it, no DIMM is needed.
  let up = cur + step;
  if (up > live.memoryMiB) up = live.memoryMiB + Math.ceil((up - live.memoryMiB) / step) * step;
  const down = cur - step;
  const needsDimm = up > live.memoryMiB && up <= live.maxMemoryMiB;
  const noSlot = needsDimm && live.freeDimmSlots === 0;
  const set = (to: number) => void run(to > cur ? 'inc' : 'dec', `Memory ${formatMiB(cur)} → ${formatMiB(to)}`, 'PUT', '/memory', { sizeMiB: to });
  const headroom = Math.max(0, live.maxMemoryMiB - live.memoryMiB);
  const pct = live.maxMemoryMiB > 0 ? Math.min(100, (live.memoryMiB / live.maxMemoryMiB) * 100) : 0;
  const dimms = devicesOfKind(vm, 'dimm');
  return (
    <Stepper
      id="mem-stepper"
      label={`Memory of the running VM (${step} MiB steps)`}
      value={
        <>
          <strong className="text-base">{formatMiB(cur)}</strong> of max {formatMiB(vm.maxMemoryMiB)}
        </>
      }
      onDec={() => set(down)}
      onInc={() => set(up)}
      decLabel={`Remove ${step} MiB (applies at next boot)`}
      incLabel={`Add ${step} MiB`}
      note={cur !== live.memoryMiB ? `at next boot; running now: ${formatMiB(live.memoryMiB)}` : undefined}
      decDisabled={!canEdit || down < MIN_MEMORY_MIB}
      incDisabled={!canEdit || up > vm.maxMemoryMiB || noSlot}
      busy={busy}
      testId="mem"
    >
      <div className="mt-3 space-y-1">
        <div className="h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700" aria-hidden>
          <div className="h-full rounded-full bg-sky-600 dark:bg-sky-400" style={{ width: `${pct}%` }} />
        </div>
        <p className="muted text-xs" data-testid="mem-headroom">
          Running: {formatMiB(live.memoryMiB)} of max {formatMiB(live.maxMemoryMiB)}. Headroom {formatMiB(headroom)} ({Math.floor(headroom / step)} × {step} MiB),{' '}
          {live.freeDimmSlots} free DIMM slot{live.freeDimmSlots === 1 ? '' : 's'}. Adding is live; removing applies at next boot.
          {noSlot && ' No free DIMM slot left: a larger size applies at next boot only if set while the VM is off.'}
        </p>
      </div>
      {dimms.length > 0 && (
        <ul className="mt-2 flex flex-wrap gap-x-3 gap-y-1.5 text-xs" aria-label="Hot-added memory (DIMMs)" data-testid="mem-dimms">
          {dimms.map(([id, st]) => (
            <li key={id} className="flex items-center gap-1.5">
              <span className="font-mono">{id}</span>
              <DeviceStateBadge id={id} state={st} />
            </li>
          ))}
        </ul>
      )}
      <GuestMemory vm={vm} sizeKey={live.memoryMiB} />
    </Stepper>
  );
}

/** The guest's own memory numbers (virtio-balloon stats), refreshed every 5 s. */
function GuestMemory({ vm, sizeKey }: { vm: VmView; sizeKey: number }) {
  const [stats, setStats] = useState<VmStats | null>(null);
  useEffect(() => {
    let alive = true;
    const ctl = new AbortController();
    const load = () =>
      api<VmStats>('GET', `/api/vms/${encodeURIComponent(vm.id)}/stats`, undefined, { signal: ctl.signal })
        .then((s) => alive && setStats(s))
        .catch(() => undefined);
    void load();
    const t = setInterval(load, 5000);
    return () => {
      alive = false;
      ctl.abort();
      clearInterval(t);
    };
  }, [vm.id, sizeKey]);
  const g = stats?.guest;
  if (!g || g.totalMiB === null) return null;
  return (
    <p className="muted mt-2 text-xs" data-testid="mem-guest-stats">
      The guest reports {formatMiB(g.totalMiB)} total
      {g.availableMiB !== null && `, ${formatMiB(g.availableMiB)} available`}
      {g.freeMiB !== null && `, ${formatMiB(g.freeMiB)} free`}
      {stats?.balloon && ` · balloon holds it at ${formatMiB(stats.balloon.actualMiB)}`}.
    </p>
  );
}
