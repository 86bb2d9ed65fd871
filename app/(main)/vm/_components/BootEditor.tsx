'use client';
/**
 * Boot options: the boot order (enable devices and move them up/down) and direct kernel boot
 * (kernel + optional initrd from the pool, and a command line). Both are read at boot, so on a
 * running VM they are pending until the next start.
 * Test ids: boot-device-<disk|cdrom|network>, boot-up-<dev>, boot-down-<dev>, field-kernel-enabled,
 * field-kernel, field-initrd, field-cmdline, error-bootOrder, error-kernel, error-initrd, error-cmdline.
 */
import type { PatchVm, VmView } from '@/lib/schemas';
import { Field } from '@/components/ui/Field';
import { ChevronDownIcon, ChevronUpIcon } from '@/components/ui/icons';
import { useVolumes } from '@/components/vm/useVolumes';
import { EditorShell, useDraft, usePatch } from './editorKit';

type Dev = VmView['bootOrder'][number];
const ALL: Dev[] = ['disk', 'cdrom', 'network'];
const LABEL: Record<Dev, string> = { disk: 'Hard disk', cdrom: 'CD-ROM', network: 'Network (PXE)' };

function fromVm(vm: VmView) {
  return {
    order: [...vm.bootOrder, ...ALL.filter((d) => !vm.bootOrder.includes(d))],
    enabled: ALL.filter((d) => vm.bootOrder.includes(d)),
    kernelOn: vm.kernel !== null,
    kernel: vm.kernel?.kernel ?? '',
    initrd: vm.kernel?.initrd ?? '',
    cmdline: vm.kernel?.cmdline ?? '',
  };
}

export function BootEditor({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const { draft, set, setDraft, dirty, reset, rebase } = useDraft(fromVm(vm));
  const { save, busy, errors, setErrors, formError, savedAt } = usePatch(vm);
  const { volumes } = useVolumes();
  const files = (volumes ?? []).filter((v) => v.format !== 'qcow2' && v.format !== 'iso');

  const move = (i: number, by: number) =>
    setDraft((d) => {
      const o = [...d.order];
      const j = i + by;
      if (j < 0 || j >= o.length) return d;
      [o[i], o[j]] = [o[j], o[i]];
      return { ...d, order: o };
    });

  const onSave = async () => {
    const bootOrder = draft.order.filter((d) => draft.enabled.includes(d));
    if (!bootOrder.length) return setErrors({ bootOrder: 'Enable at least one boot device' });
    if (draft.kernelOn && !draft.kernel) return setErrors({ kernel: 'Pick the kernel image' });
    const kernel = draft.kernelOn ? { kernel: draft.kernel, initrd: draft.initrd || null, cmdline: draft.cmdline } : null;
    const patch: PatchVm = {};
    if (JSON.stringify(bootOrder) !== JSON.stringify(vm.bootOrder)) patch.bootOrder = bootOrder;
    if (JSON.stringify(kernel) !== JSON.stringify(vm.kernel)) patch.kernel = kernel;
    const r = await save(patch);
    if (r.ok && r.vm) rebase(fromVm(r.vm));
  };

  return (
    <EditorShell item="boot" title="Boot options" vm={vm} pendingFields={['bootOrder', 'kernel']} dirty={dirty} busy={busy} onSave={onSave} onRevert={reset} formError={formError} savedAt={savedAt} canEdit={canEdit}>
      <fieldset>
        <legend className="label">Boot order</legend>
        <ol className="divide-y divide-slate-100 rounded-md border border-slate-200 dark:divide-slate-800 dark:border-slate-700">
          {draft.order.map((dev, i) => (
            <li key={dev} className="flex items-center gap-3 px-3 py-2">
              <input
                id={`boot-${dev}`}
                type="checkbox"
                className="h-4 w-4"
                checked={draft.enabled.includes(dev)}
                disabled={!canEdit}
                onChange={(e) => set('enabled', e.target.checked ? [...draft.enabled, dev] : draft.enabled.filter((x) => x !== dev))}
                data-testid={`boot-device-${dev}`}
              />
              <label htmlFor={`boot-${dev}`} className="flex-1 text-sm">
                {LABEL[dev]}
              </label>
              <button type="button" className="btn btn-ghost btn-icon" onClick={() => move(i, -1)} disabled={i === 0 || !canEdit} aria-label={`Move ${LABEL[dev]} up`} data-testid={`boot-up-${dev}`}>
                <ChevronUpIcon />
              </button>
              <button type="button" className="btn btn-ghost btn-icon" onClick={() => move(i, 1)} disabled={i === draft.order.length - 1 || !canEdit} aria-label={`Move ${LABEL[dev]} down`} data-testid={`boot-down-${dev}`}>
                <ChevronDownIcon />
              </button>
            </li>
          ))}
        </ol>
        {errors.bootOrder && (
          <p className="mt-1 text-xs font-medium text-red-700 dark:text-red-400" data-testid="error-bootOrder">
            {errors.bootOrder}
          </p>
        )}
      </fieldset>

      <fieldset className="space-y-3">
        <legend className="sr-only">Direct kernel boot</legend>
        <label className="flex items-center gap-2 text-sm font-medium">
          <input type="checkbox" className="h-4 w-4" checked={draft.kernelOn} disabled={!canEdit} onChange={(e) => set('kernelOn', e.target.checked)} data-testid="field-kernel-enabled" />
          Direct kernel boot
        </label>
        {draft.kernelOn && (
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Kernel" error={errors.kernel ?? errors['kernel.kernel']} errorTestId="error-kernel">
              <select className="input" value={draft.kernel} onChange={(e) => set('kernel', e.target.value)} disabled={!canEdit} data-testid="field-kernel">
                <option value="">Choose a file…</option>
                {files.map((v) => (
                  <option key={v.ref} value={v.ref}>
                    {v.name}
                  </option>
                ))}
                {draft.kernel && !files.some((v) => v.ref === draft.kernel) && <option value={draft.kernel}>{draft.kernel}</option>}
              </select>
            </Field>
            <Field label="Initrd (optional)" error={errors['kernel.initrd']} errorTestId="error-initrd">
              <select className="input" value={draft.initrd} onChange={(e) => set('initrd', e.target.value)} disabled={!canEdit} data-testid="field-initrd">
                <option value="">None</option>
                {files.map((v) => (
                  <option key={v.ref} value={v.ref}>
                    {v.name}
                  </option>
                ))}
                {draft.initrd && !files.some((v) => v.ref === draft.initrd) && <option value={draft.initrd}>{draft.initrd}</option>}
              </select>
            </Field>
            <Field label="Kernel command line" className="sm:col-span-2" error={errors['kernel.cmdline']} errorTestId="error-cmdline">
              <input className="input font-mono" value={draft.cmdline} onChange={(e) => set('cmdline', e.target.value)} disabled={!canEdit} placeholder="console=ttyS0" spellCheck={false} data-testid="field-cmdline" />
            </Field>
          </div>
        )}
      </fieldset>
    </EditorShell>
  );
}
