'use client';
/** The five steps of the create-VM wizard (state lives in CreateVmWizard; test ids are listed there). */
import type { ReactNode } from 'react';
import type { HostInfo, Volume } from '@/lib/schemas';
import { formatBytes, formatMiB } from '@/components/format';
import { Field } from '@/components/ui/Field';
import { diskSizeMiB, PRESETS, STEPS, pick, type Errors, type Media, type Preset, type WizardForm } from './wizardModel';

type Update = (patch: Partial<WizardForm>, touch?: string) => void;

function RadioCard({ name, checked, onChange, label, desc, testId }: { name: string; checked: boolean; onChange: () => void; label: string; desc?: string; testId: string }) {
  return (
    <label
      className={`flex cursor-pointer items-start gap-2.5 rounded-md border p-3 text-sm has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-sky-600 ${
        checked ? 'border-sky-600 bg-sky-50 dark:border-sky-400 dark:bg-sky-950/40' : 'border-slate-300 hover:bg-slate-50 dark:border-slate-600 dark:hover:bg-slate-800/60'
      }`}
    >
      <input type="radio" name={name} checked={checked} onChange={onChange} className="mt-0.5 h-4 w-4" data-testid={testId} />
      <span>
        <span className="block font-medium">{label}</span>
        {desc && <span className="muted block text-xs">{desc}</span>}
      </span>
    </label>
  );
}

function volumeOptions(list: Volume[], placeholder: string, current: string) {
  return (
    <>
      <option value="">{placeholder}</option>
      {list.map((v) => (
        <option key={v.ref} value={v.ref}>
          {v.name} ({v.format === 'iso' ? formatBytes(v.sizeBytes) : `${v.format}, ${formatBytes(v.virtualSizeBytes)}`})
        </option>
      ))}
      {current && !list.some((v) => v.ref === current) && <option value={current}>{current}</option>}
    </>
  );
}

export function StepMedia({ form, update, errors, volumes, volumesLoading }: { form: WizardForm; update: Update; errors: Errors; volumes: Volume[] | null; volumesLoading: boolean }) {
  const all = volumes ?? [];
  const isos = all.filter((v) => v.format === 'iso');
  const images = all.filter((v) => v.format === 'qcow2' || v.format === 'raw');
  const files = all.filter((v) => v.format === 'raw');
  const none = (what: string) => (!volumesLoading && volumes !== null ? `There are no ${what} in the default pool (see Storage).` : undefined);

  return (
    <div className="space-y-6">
      <Field label="Name" error={errors.name} errorTestId="wizard-error-name" hint="Letters, digits, “.”, “_” and “-”; it starts with a letter or digit.">
        <input className="input sm:w-80" value={form.name} onChange={(e) => update({ name: e.target.value })} autoFocus autoComplete="off" spellCheck={false} data-testid="wizard-name" />
      </Field>

      <fieldset>
        <legend className="label">Operating system</legend>
        <div className="grid gap-2 sm:grid-cols-3">
          {(Object.keys(PRESETS) as Preset[]).map((p) => (
            <RadioCard
              key={p}
              name="os"
              checked={form.osPreset === p}
              onChange={() => update({ osPreset: p, ...pick(PRESETS[p]), nicModel: PRESETS[p].nicModel })}
              label={PRESETS[p].label}
              desc={PRESETS[p].blurb}
              testId={`wizard-os-${p}`}
            />
          ))}
        </div>
        <details className="mt-3 text-sm">
          <summary className="link inline-block">Hardware defaults</summary>
          <div className="mt-3 grid gap-4 sm:grid-cols-3">
            <Field label="Machine type">
              <select className="input" value={form.machine} onChange={(e) => update({ machine: e.target.value as WizardForm['machine'] })} data-testid="wizard-machine">
                <option value="q35">q35</option>
                <option value="pc">pc (i440FX)</option>
              </select>
            </Field>
            <Field label="Disk bus">
              <select className="input" value={form.diskBus} onChange={(e) => update({ diskBus: e.target.value as WizardForm['diskBus'] })} data-testid="wizard-disk-bus">
                <option value="virtio">virtio</option>
                <option value="scsi">SCSI (virtio-scsi)</option>
                <option value="sata">SATA</option>
              </select>
            </Field>
            <Field label="Video">
              <select className="input" value={form.video} onChange={(e) => update({ video: e.target.value as WizardForm['video'] })} data-testid="wizard-video">
                <option value="std">Standard VGA</option>
                <option value="virtio">virtio-gpu</option>
                <option value="none">None</option>
              </select>
            </Field>
          </div>
        </details>
      </fieldset>

      <fieldset>
        <legend className="label">Install from</legend>
        <div className="grid gap-2 sm:grid-cols-3">
          {(
            [
              ['iso', 'ISO image', 'Boot an installer or live CD'],
              ['import', 'Existing disk image', 'Import a qcow2 or raw image'],
              ['kernel', 'Direct kernel boot', 'A kernel (+ initrd) and a command line'],
            ] as [Media, string, string][]
          ).map(([m, label, desc]) => (
            <RadioCard key={m} name="media" checked={form.media === m} onChange={() => update({ media: m })} label={label} desc={desc} testId={`wizard-media-${m}`} />
          ))}
        </div>
        <div className="mt-4">
          {form.media === 'iso' && (
            <Field label="ISO image" error={errors.iso} errorTestId="wizard-error-iso" hint={isos.length ? undefined : none('ISO images')}>
              <select className="input" value={form.iso} onChange={(e) => update({ iso: e.target.value })} data-testid="wizard-iso">
                {volumeOptions(isos, volumesLoading ? 'Loading…' : 'Choose an ISO…', form.iso)}
              </select>
            </Field>
          )}
          {form.media === 'import' && (
            <Field label="Disk image" error={errors.importVolume} errorTestId="wizard-error-importVolume" hint={images.length ? 'The VM boots from this image; it is used in place, not copied.' : none('disk images')}>
              <select className="input" value={form.importVolume} onChange={(e) => update({ importVolume: e.target.value })} data-testid="wizard-import-volume">
                {volumeOptions(images, volumesLoading ? 'Loading…' : 'Choose an image…', form.importVolume)}
              </select>
            </Field>
          )}
          {form.media === 'kernel' && (
            <div className="grid gap-4 sm:grid-cols-2">
              <Field label="Kernel" error={errors.kernel} errorTestId="wizard-error-kernel" hint={files.length ? undefined : none('kernel files')}>
                <select className="input" value={form.kernel} onChange={(e) => update({ kernel: e.target.value })} data-testid="wizard-kernel">
                  {volumeOptions(files, volumesLoading ? 'Loading…' : 'Choose a kernel…', form.kernel)}
                </select>
              </Field>
              <Field label="Initrd (optional)" error={errors.initrd} errorTestId="wizard-error-initrd">
                <select className="input" value={form.initrd} onChange={(e) => update({ initrd: e.target.value })} data-testid="wizard-initrd">
                  {volumeOptions(files, 'None', form.initrd)}
                </select>
              </Field>
              <Field label="Kernel command line" className="sm:col-span-2" error={errors.cmdline} errorTestId="wizard-error-cmdline">
                <input className="input font-mono" value={form.cmdline} onChange={(e) => update({ cmdline: e.target.value })} spellCheck={false} data-testid="wizard-cmdline" />
              </Field>
            </div>
          )}
        </div>
      </fieldset>
    </div>
  );
}

export function StepCpuMemory({ form, update, errors, host }: { form: WizardForm; update: Update; errors: Errors; host: HostInfo | null }) {
  return (
    <div className="space-y-5">
      <p className="muted text-sm" data-testid="wizard-host-limits">
        {host ? (
          <>
            This host has {host.cpus} CPU{host.cpus === 1 ? '' : 's'} and {formatMiB(host.memory.totalMiB)} of memory ({formatMiB(host.memory.availableMiB)} free)
            {host.accel.emulated ? '. Guests run under software emulation (TCG): keep them small.' : '.'}
          </>
        ) : (
          'Loading the host’s limits…'
        )}
      </p>
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="vCPUs" error={errors.vcpus} errorTestId="wizard-error-vcpus">
          <input className="input" inputMode="numeric" value={form.vcpus} onChange={(e) => update({ vcpus: e.target.value })} data-testid="wizard-vcpus" />
        </Field>
        <Field label="Max vCPUs" error={errors.maxVcpus} errorTestId="wizard-error-maxVcpus" hint="Headroom: vCPUs can be hot-added up to this while the VM runs.">
          <input className="input" inputMode="numeric" value={form.maxVcpus} onChange={(e) => update({ maxVcpus: e.target.value }, 'maxVcpus')} data-testid="wizard-max-vcpus" />
        </Field>
        <Field label="Memory (MiB)" error={errors.memoryMiB} errorTestId="wizard-error-memoryMiB" hint={host ? `At most ${host.memory.totalMiB} MiB on this host.` : undefined}>
          <input className="input" inputMode="numeric" value={form.memoryMiB} onChange={(e) => update({ memoryMiB: e.target.value })} data-testid="wizard-memory" />
        </Field>
        <Field label="Max memory (MiB)" error={errors.maxMemoryMiB} errorTestId="wizard-error-maxMemoryMiB" hint="Headroom: memory can be hot-added in 128 MiB DIMMs up to this.">
          <input className="input" inputMode="numeric" value={form.maxMemoryMiB} onChange={(e) => update({ maxMemoryMiB: e.target.value }, 'maxMemoryMiB')} data-testid="wizard-max-memory" />
        </Field>
      </div>
    </div>
  );
}

export function StepStorage({ form, update, errors, host }: { form: WizardForm; update: Update; errors: Errors; host: HostInfo | null }) {
  const size = diskSizeMiB(form);
  const tooBig = host && size !== null && size * 1024 * 1024 > host.disk.freeBytes;
  return (
    <div className="space-y-4">
      {form.media === 'import' && <p className="muted text-sm">The imported image is the first disk. You can add an empty second disk here.</p>}
      <fieldset className="grid gap-2 sm:grid-cols-2">
        <legend className="sr-only">Disk</legend>
        <RadioCard name="disk" checked={form.diskMode === 'new'} onChange={() => update({ diskMode: 'new' }, 'diskMode')} label="Create a new disk" desc="A thin-provisioned qcow2 image in the default pool" testId="wizard-disk-new" />
        <RadioCard name="disk" checked={form.diskMode === 'none'} onChange={() => update({ diskMode: 'none' }, 'diskMode')} label={form.media === 'import' ? 'No extra disk' : 'No disk'} desc={form.media === 'iso' ? 'A live CD needs none' : undefined} testId="wizard-disk-none" />
      </fieldset>
      {form.diskMode === 'new' && (
        <div className="flex items-start gap-2 sm:w-96">
          <Field
            label="Size"
            className="flex-1"
            error={errors.diskSize}
            errorTestId="wizard-error-diskSize"
            hint={host ? `${formatBytes(host.disk.freeBytes)} free on the host${tooBig ? ' — the image can grow beyond it' : ''}.` : undefined}
          >
            <input className="input" inputMode="decimal" value={form.diskSize} onChange={(e) => update({ diskSize: e.target.value })} data-testid="wizard-disk-size" />
          </Field>
          <div className="w-24">
            <label htmlFor="wizard-disk-unit" className="label">
              Unit
            </label>
            <select id="wizard-disk-unit" className="input" value={form.diskUnit} onChange={(e) => update({ diskUnit: e.target.value as 'GiB' | 'MiB' })} data-testid="wizard-disk-unit">
              <option>GiB</option>
              <option>MiB</option>
            </select>
          </div>
        </div>
      )}
    </div>
  );
}

export function StepNetwork({ form, update, errors }: { form: WizardForm; update: Update; errors: Errors }) {
  return (
    <div className="space-y-4">
      <label className="flex items-center gap-2 text-sm font-medium">
        <input type="checkbox" className="h-4 w-4" checked={form.network} onChange={(e) => update({ network: e.target.checked })} data-testid="wizard-network" />
        Connect a network interface
      </label>
      {form.network && (
        <>
          <p className="muted text-sm">User-mode NAT: the guest can reach the network through the host; nothing from outside reaches the guest.</p>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Model" error={errors.nicModel} errorTestId="wizard-error-nicModel">
              <select className="input" value={form.nicModel} onChange={(e) => update({ nicModel: e.target.value as WizardForm['nicModel'] })} data-testid="wizard-nic-model">
                <option value="virtio">virtio-net</option>
                <option value="e1000">e1000</option>
              </select>
            </Field>
            <Field label="MAC address (optional)" error={errors.mac} errorTestId="wizard-error-mac" hint="Empty: a random 52:54:00:… address.">
              <input className="input font-mono" value={form.mac} placeholder="52:54:00:12:34:56" onChange={(e) => update({ mac: e.target.value })} spellCheck={false} data-testid="wizard-mac" />
            </Field>
          </div>
        </>
      )}
    </div>
  );
}

function SumRow({ k, step, goTo, children }: { k: string; step: number; goTo: (s: number) => void; children: ReactNode }) {
  return (
    <div className="grid grid-cols-[7rem_1fr_auto] items-baseline gap-2 py-2 text-sm sm:grid-cols-[10rem_1fr_auto]">
      <dt className="muted">{k}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
      <dd>
        <button type="button" className="link text-xs" onClick={() => goTo(step)} aria-label={`Change ${k.toLowerCase()} (${STEPS[step]})`}>
          Change
        </button>
      </dd>
    </div>
  );
}

export function StepSummary({ form, update, goTo }: { form: WizardForm; update: Update; goTo: (s: number) => void }) {
  const size = diskSizeMiB(form);
  const media = form.media === 'iso' ? `ISO ${form.iso}` : form.media === 'import' ? `Disk image ${form.importVolume}` : `Kernel ${form.kernel}${form.initrd ? ` + ${form.initrd}` : ''} “${form.cmdline}”`;
  return (
    <div className="space-y-4">
      <dl className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="wizard-summary">
        <SumRow k="Name" step={0} goTo={goTo}>
          <span className="font-mono">{form.name}</span>
        </SumRow>
        <SumRow k="OS" step={0} goTo={goTo}>
          {PRESETS[form.osPreset].label} · {form.machine}, {form.diskBus} disks, {form.video} video
        </SumRow>
        <SumRow k="Install from" step={0} goTo={goTo}>
          <span className="break-all">{media}</span>
        </SumRow>
        <SumRow k="CPUs" step={1} goTo={goTo}>
          {form.vcpus} (max {form.maxVcpus})
        </SumRow>
        <SumRow k="Memory" step={1} goTo={goTo}>
          {form.memoryMiB} MiB (max {form.maxMemoryMiB} MiB)
        </SumRow>
        <SumRow k="Storage" step={2} goTo={goTo}>
          {form.diskMode === 'new' && size ? `New ${formatMiB(size)} qcow2 disk` : 'No new disk'}
          {form.media === 'import' ? ` + ${form.importVolume}` : ''}
        </SumRow>
        <SumRow k="Network" step={3} goTo={goTo}>
          {form.network ? `User NAT, ${form.nicModel}${form.mac ? `, ${form.mac}` : ''}` : 'None'}
        </SumRow>
      </dl>
      <label className="flex items-center gap-2 text-sm font-medium">
        <input type="checkbox" className="h-4 w-4" checked={form.start} onChange={(e) => update({ start: e.target.checked })} data-testid="wizard-start" />
        Start after creation (and open its console)
      </label>
    </div>
  );
}
