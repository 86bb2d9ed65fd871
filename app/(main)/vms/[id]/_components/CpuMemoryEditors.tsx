'use client';
/**
 * CPUs and Memory editors. On a running VM the server hot-adds vCPUs and DIMMs up to the max
 * (the hotplug headroom, fixed while QEMU runs); anything else is stored as pending.
 * Test ids: field-vcpus, field-maxVcpus, field-memoryMiB, field-maxMemoryMiB, field-balloonMiB,
 * error-<same names>, live-vcpus, live-memory (what the running QEMU has right now).
 */
import type { PatchVm, VmView } from '@/lib/schemas';
import { DIMM_BLOCK_MIB, MAX_VCPUS } from '@/lib/schemas';
import { formatMiB } from '@/components/format';
import { Field } from '@/components/ui/Field';
import { useHost } from '@/components/vm/useHost';
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
