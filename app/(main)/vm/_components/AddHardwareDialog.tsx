'use client';
/**
 * Add Hardware: a disk (a new qcow2 of a size: POST /api/pools/default/volumes named
 * `<vm>-<diskid>.qcow2`, then PATCH disks with it appended; or an existing volume), CD-ROM media
 * (an ISO from the pool) or a NIC (a new id and a random 52:54:00 MAC). On a running VM the server
 * hot-plugs what it can; the rest shows as pending. The dialog says beforehand what will be live
 * (free PCIe slots, SATA only at next boot), and afterwards the page's live region says what
 * happened to the running VM, read from the new device's state.
 *
 * Test ids: add-hardware-dialog, add-hardware-live-hint, add-kind-disk, add-kind-cdrom, add-kind-nic, add-disk-source-new,
 * add-disk-source-existing, add-disk-size, add-disk-unit, add-disk-volume, add-disk-bus,
 * add-cdrom-volume, add-nic-model, add-nic-mac, add-hardware-submit, add-hardware-error,
 * add-hardware-progress, error-add-<field>.
 */
import { useState } from 'react';
import { DiskSchema, NicSchema, type Disk, type Nic, type Volume, type VmView } from '@/lib/schemas';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatBytes, nextDeviceId, randomMac } from '@/components/format';
import { Button } from '@/components/ui/Button';
import { Dialog } from '@/components/ui/Dialog';
import { Field, FormError } from '@/components/ui/Field';
import { Spinner } from '@/components/ui/Spinner';
import { reportFromView, useHotplugReport } from '@/components/vm/useHotplug';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { useVolumes } from '@/components/vm/useVolumes';

type Kind = 'disk' | 'cdrom' | 'nic';

const PRESET_BUS: Record<VmView['osPreset'], Disk['bus']> = { linux: 'virtio', windows: 'sata', other: 'sata' };
const PRESET_NIC: Record<VmView['osPreset'], Nic['model']> = { linux: 'virtio', windows: 'e1000', other: 'e1000' };

export function AddHardwareDialog({ vm, open, onClose, onAdded }: { vm: VmView; open: boolean; onClose: () => void; onAdded: (item: string) => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <Dialog open={open} onClose={onClose} busy={busy} title="Add hardware" description={`To “${vm.name}”`} testId="add-hardware-dialog" size="md">
      {/* The body is its own component so that its state starts fresh on every opening. */}
      <AddHardwareBody vm={vm} onClose={onClose} onAdded={onAdded} busy={busy} setBusy={setBusy} />
    </Dialog>
  );
}

function AddHardwareBody({ vm, onClose, onAdded, busy, setBusy }: { vm: VmView; onClose: () => void; onAdded: (item: string) => void; busy: boolean; setBusy: (b: boolean) => void }) {
  const { upsert } = useVmEvents();
  const { setReport } = useHotplugReport();
  const { volumes, loading } = useVolumes();
  const [kind, setKind] = useState<Kind>('disk');
  const [source, setSource] = useState<'new' | 'existing'>('new');
  const [size, setSize] = useState('1');
  const [unit, setUnit] = useState<'GiB' | 'MiB'>('GiB');
  const [volume, setVolume] = useState('');
  const [bus, setBus] = useState<Disk['bus']>(vm.disks[0]?.bus ?? PRESET_BUS[vm.osPreset]);
  const [iso, setIso] = useState('');
  const [model, setModel] = useState<Nic['model']>(vm.nics[0]?.model ?? PRESET_NIC[vm.osPreset]);
  const [mac, setMac] = useState(() => randomMac());
  const [progress, setProgress] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);

  const taken = [...vm.disks.map((d) => d.id), ...vm.nics.map((n) => n.id)];
  const images = (volumes ?? []).filter((v) => v.format === 'qcow2' || v.format === 'raw');
  const isos = (volumes ?? []).filter((v) => v.format === 'iso');

  const running = vm.runtime !== null;
  const patch = async (body: object) => {
    const next = await api<VmView>('PATCH', `/api/vms/${encodeURIComponent(vm.id)}`, body);
    upsert(next);
    return next;
  };
  /** On a running VM: say in the page's live region whether the new device is live or pending. */
  const report = (what: string, next: VmView, device: string) => {
    if (running) setReport(reportFromView(what, next, device));
  };

  /** POST a new qcow2; if the name is taken, try `-1`, `-2`, … */
  const createVolume = async (diskId: string, sizeMiB: number): Promise<Volume> => {
    for (let n = 0; ; n++) {
      const name = `${vm.name}-${diskId}${n ? `-${n}` : ''}.qcow2`;
      try {
        return await api<Volume>('POST', '/api/pools/default/volumes', { name, sizeMiB });
      } catch (e) {
        if (e instanceof ApiRequestError && e.code === 'VOLUME_EXISTS' && n < 20) continue;
        throw e;
      }
    }
  };

  const submitDisk = async () => {
    const id = nextDeviceId('disk', taken);
    let ref: string;
    let format: Disk['format'] = 'qcow2';
    let created: Volume | null = null;
    let what = `Add disk ${id}`;
    if (source === 'new') {
      const n = Number(size);
      if (!size.trim() || !Number.isFinite(n) || n <= 0) return setErrors({ size: 'Enter a size greater than 0' });
      const sizeMiB = Math.round(unit === 'GiB' ? n * 1024 : n);
      if (!Number.isInteger(sizeMiB) || sizeMiB < 1) return setErrors({ size: 'At least 1 MiB' });
      setProgress('Creating the disk image…');
      created = await createVolume(id, sizeMiB);
      ref = created.ref;
      what = `Add disk ${id} (new, ${formatBytes(sizeMiB * 1024 * 1024)})`;
    } else {
      const v = images.find((x) => x.ref === volume);
      if (!v) return setErrors({ volume: 'Pick a volume' });
      ref = v.ref;
      format = v.format === 'raw' ? 'raw' : 'qcow2';
      what = `Add disk ${id} (${v.name})`;
    }
    const disk = DiskSchema.safeParse({ id, volume: ref, format, bus, cache: 'writeback', readonly: false });
    if (!disk.success) return setFormError(disk.error.issues[0].message);
    setProgress(vm.runtime ? 'Attaching the disk to the running VM…' : 'Adding the disk…');
    try {
      report(what, await patch({ disks: [...vm.disks, disk.data] }), id);
    } catch (e) {
      // Do not leave an orphan image behind when the VM refused it.
      if (created) await api('DELETE', `/api/pools/default/volumes/${encodeURIComponent(created.name)}`).catch(() => undefined);
      throw e;
    }
    onAdded(`disk-${id}`);
  };

  const submitCdrom = async () => {
    if (!iso) return setErrors({ iso: 'Pick an ISO image' });
    setProgress('Inserting the media…');
    report(`Insert CD-ROM media ${iso.split('/')[1] ?? iso}`, await patch({ cdrom: iso }), 'cd0');
    onAdded('cdrom');
  };

  const submitNic = async () => {
    const id = nextDeviceId('nic', taken);
    const nic = NicSchema.safeParse({ id, model, mac: mac.trim(), network: 'user', linkUp: true });
    if (!nic.success) {
      const i = nic.error.issues[0];
      return setErrors({ [String(i.path[0] ?? 'mac')]: i.message });
    }
    if (vm.nics.some((n) => n.mac === nic.data.mac)) return setErrors({ mac: 'Another interface of this VM has this MAC' });
    setProgress(vm.runtime ? 'Plugging in the interface…' : 'Adding the interface…');
    report(`Add network interface ${id} (${nic.data.model})`, await patch({ nics: [...vm.nics, nic.data] }), id);
    onAdded(`nic-${id}`);
  };

  const submit = async () => {
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      if (kind === 'disk') await submitDisk();
      else if (kind === 'cdrom') await submitCdrom();
      else await submitNic();
    } catch (e) {
      if (e instanceof ApiRequestError && e.issues.length) {
        const i = e.issues[0];
        const last = i.path[i.path.length - 1];
        const field = kind === 'nic' && (last === 'mac' || last === 'model') ? String(last) : kind === 'disk' && last === 'sizeMiB' ? 'size' : null;
        if (field) setErrors({ [field]: i.message });
        else setFormError(e.message);
      } else setFormError(errorMessage(e));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  const kindButton = (k: Kind, label: string) => (
    <label
      className={`flex flex-1 cursor-pointer items-center justify-center gap-2 rounded-md border px-3 py-2 text-sm font-medium has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-sky-600 ${
        kind === k ? 'border-sky-600 bg-sky-50 text-sky-900 dark:border-sky-400 dark:bg-sky-950/50 dark:text-sky-100' : 'border-slate-300 dark:border-slate-600'
      }`}
    >
      <input type="radio" name="hw-kind" value={k} checked={kind === k} onChange={() => setKind(k)} className="sr-only" data-testid={`add-kind-${k}`} />
      {label}
    </label>
  );

  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        if (!busy) void submit();
      }}
      noValidate
    >
      {running && <LiveHint vm={vm} kind={kind} bus={bus} model={model} />}
      <fieldset disabled={busy}>
        <legend className="label">Type</legend>
        <div className="flex flex-col gap-2 sm:flex-row">
          {kindButton('disk', 'Storage')}
          {kindButton('cdrom', 'CD-ROM media')}
          {kindButton('nic', 'Network')}
        </div>
      </fieldset>

      {kind === 'disk' && (
        <fieldset disabled={busy} className="space-y-4">
          <legend className="sr-only">Disk</legend>
          <div className="flex flex-wrap gap-4 text-sm">
            <label className="flex items-center gap-2">
              <input type="radio" name="disk-source" checked={source === 'new'} onChange={() => setSource('new')} data-testid="add-disk-source-new" />
              Create a new qcow2 image
            </label>
            <label className="flex items-center gap-2">
              <input type="radio" name="disk-source" checked={source === 'existing'} onChange={() => setSource('existing')} data-testid="add-disk-source-existing" />
              Use an existing volume
            </label>
          </div>
          {source === 'new' ? (
            <div className="flex items-start gap-2">
              <Field label="Size" className="flex-1" error={errors.size} errorTestId="error-add-size" hint={`Saved as default/${vm.name}-${nextDeviceId('disk', taken)}.qcow2 (thin-provisioned)`}>
                <input className="input" inputMode="decimal" value={size} onChange={(e) => setSize(e.target.value)} data-testid="add-disk-size" />
              </Field>
              <div className="w-24">
                <label htmlFor="add-disk-unit" className="label">
                  Unit
                </label>
                <select id="add-disk-unit" className="input" value={unit} onChange={(e) => setUnit(e.target.value as 'GiB' | 'MiB')} data-testid="add-disk-unit">
                  <option>GiB</option>
                  <option>MiB</option>
                </select>
              </div>
            </div>
          ) : (
            <Field label="Volume" error={errors.volume} errorTestId="error-add-volume" hint={!loading && images.length === 0 ? 'There are no disk images in the default pool.' : undefined}>
              <select className="input" value={volume} onChange={(e) => setVolume(e.target.value)} data-testid="add-disk-volume">
                <option value="">Choose a volume…</option>
                {images.map((v) => (
                  <option key={v.ref} value={v.ref} disabled={v.usedBy.length > 0}>
                    {v.name} ({v.format}, {formatBytes(v.virtualSizeBytes)}){v.usedBy.length ? ' — in use' : ''}
                  </option>
                ))}
              </select>
            </Field>
          )}
          <Field label="Bus" error={errors.bus} errorTestId="error-add-bus">
            <select className="input" value={bus} onChange={(e) => setBus(e.target.value as Disk['bus'])} data-testid="add-disk-bus">
              <option value="virtio">virtio</option>
              <option value="scsi">SCSI (virtio-scsi)</option>
              <option value="sata">SATA</option>
            </select>
          </Field>
        </fieldset>
      )}

      {kind === 'cdrom' && (
        <fieldset disabled={busy}>
          <legend className="sr-only">CD-ROM media</legend>
          {vm.cdrom && <p className="muted mb-2 text-sm">This replaces the current media, {vm.cdrom}.</p>}
          <Field label="ISO image" error={errors.iso} errorTestId="error-add-iso" hint={!loading && isos.length === 0 ? 'There are no ISO images in the default pool.' : undefined}>
            <select className="input" value={iso} onChange={(e) => setIso(e.target.value)} data-testid="add-cdrom-volume">
              <option value="">Choose an ISO…</option>
              {isos.map((v) => (
                <option key={v.ref} value={v.ref}>
                  {v.name} ({formatBytes(v.sizeBytes)})
                </option>
              ))}
            </select>
          </Field>
        </fieldset>
      )}

      {kind === 'nic' && (
        <fieldset disabled={busy} className="grid gap-4 sm:grid-cols-2">
          <legend className="sr-only">Network interface</legend>
          <Field label="Model" error={errors.model} errorTestId="error-add-model">
            <select className="input" value={model} onChange={(e) => setModel(e.target.value as Nic['model'])} data-testid="add-nic-model">
              <option value="virtio">virtio-net</option>
              <option value="e1000">e1000</option>
            </select>
          </Field>
          <Field label="MAC address" error={errors.mac} errorTestId="error-add-mac">
            <input className="input font-mono" value={mac} onChange={(e) => setMac(e.target.value)} spellCheck={false} data-testid="add-nic-mac" />
          </Field>
          <p className="muted text-sm sm:col-span-2">Network: user-mode NAT.</p>
        </fieldset>
      )}

      {progress && (
        <p className="flex items-center gap-2 text-sm" role="status" data-testid="add-hardware-progress">
          <Spinner /> {progress}
        </p>
      )}
      <FormError message={formError} testId="add-hardware-error" />
      <div className="flex justify-end gap-2 border-t border-slate-200 pt-4 dark:border-slate-700">
        <Button onClick={onClose} disabled={busy}>
          Cancel
        </Button>
        <Button type="submit" variant="primary" busy={busy} data-testid="add-hardware-submit">
          Add
        </Button>
      </div>
    </form>
  );
}

/** What adding this will do to the running VM, before the click. */
function LiveHint({ vm, kind, bus, model }: { vm: VmView; kind: Kind; bus: Disk['bus']; model: Nic['model'] }) {
  const ports = vm.live?.freePorts ?? null;
  let text: string;
  if (kind === 'cdrom') text = 'The VM is running: the media goes into its CD-ROM drive at once.';
  else if (kind === 'disk' && bus === 'sata') text = 'The VM is running: SATA disks cannot be hotplugged, so this one is attached at next boot. Pick virtio or SCSI to plug it in now.';
  else if (ports === 0 && (kind === 'nic' || bus === 'virtio')) text = 'The VM is running, but all of its PCIe slots are in use: this is added at next boot.';
  else {
    const what = kind === 'disk' ? `${bus === 'scsi' ? 'SCSI' : 'virtio'} disk` : `${model === 'virtio' ? 'virtio-net' : 'e1000'} interface`;
    text = `The VM is running: the ${what} is plugged in now${ports !== null ? ` (${ports} free PCIe slot${ports === 1 ? '' : 's'})` : ''}; the guest sees it without a reboot.`;
  }
  return (
    <p className="rounded-md border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900 dark:border-sky-800 dark:bg-sky-950/40 dark:text-sky-100" data-testid="add-hardware-live-hint">
      {text}
    </p>
  );
}
