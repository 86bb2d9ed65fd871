'use client';
/**
 * Editors for the devices: each disk, the CD-ROM, each NIC and the video adapter. Disks and NICs
 * are replaced whole in the PATCH (the server hot-plugs or -unplugs what it can and marks the rest
 * pending). Removing a disk or NIC asks first. On a running VM every removal and CD-ROM media
 * change reports what happened to the running VM (live / pending with the reason / unplugging) in
 * the page's live region, read from the device's state in the VM the PATCH returns; the CD-ROM's
 * button says what it does (Insert / Change / Eject).
 * Test ids: field-format, field-bus, field-cache, field-readonly, field-cdrom, field-model,
 * field-mac, field-linkUp, field-video, error-<same>, remove-hardware, cdrom-eject,
 * device-state-<id> (device-state-cd0 for the CD-ROM).
 */
import { useState } from 'react';
import type { Disk, Nic, PatchVm, VmView } from '@/lib/schemas';
import { api } from '@/components/api';
import { formatBytes } from '@/components/format';
import { Button } from '@/components/ui/Button';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { Field } from '@/components/ui/Field';
import { TrashIcon } from '@/components/ui/icons';
import { reportFromView, useHotplugReport } from '@/components/vm/useHotplug';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { useVolumes } from '@/components/vm/useVolumes';
import { EditorShell, useDraft, usePatch } from './editorKit';

/** PATCH without the editor's form state (for Remove, inside a confirmation dialog that shows the error). */
function useRawPatch(vm: VmView) {
  const { upsert } = useVmEvents();
  return async (patch: PatchVm) => {
    const next = await api<VmView>('PATCH', `/api/vms/${encodeURIComponent(vm.id)}`, patch);
    upsert(next);
    return next;
  };
}

export function DiskEditor({ vm, disk, canEdit, onRemoved }: { vm: VmView; disk: Disk; canEdit: boolean; onRemoved: () => void }) {
  const idx = vm.disks.findIndex((d) => d.id === disk.id);
  const src = { format: disk.format, bus: disk.bus, cache: disk.cache, readonly: disk.readonly };
  const { draft, set, dirty, reset, rebase } = useDraft(src);
  const { save, busy, errors, formError, savedAt } = usePatch(vm);
  const [confirm, setConfirm] = useState(false);
  const rawPatch = useRawPatch(vm);
  const { setReport } = useHotplugReport();
  const { volumes } = useVolumes();
  const vol = volumes?.find((v) => v.ref === disk.volume);

  const onSave = async () => {
    const disks = vm.disks.map((d) => (d.id === disk.id ? { ...d, ...draft } : d));
    const r = await save({ disks }, ['disks', idx]);
    const saved = r.vm?.disks.find((d) => d.id === disk.id);
    if (r.ok && saved) rebase({ format: saved.format, bus: saved.bus, cache: saved.cache, readonly: saved.readonly });
  };

  return (
    <EditorShell
      item={`disk-${disk.id}`}
      deviceId={disk.id}
      title={`Disk ${disk.id}`}
      subtitle={
        <>
          <span className="font-mono">{disk.volume}</span>
          {vol && ` · ${formatBytes(vol.virtualSizeBytes)} virtual, ${formatBytes(vol.allocatedBytes)} used on the host`}
        </>
      }
      vm={vm}
      pendingFields={['disks']}
      dirty={dirty}
      busy={busy}
      onSave={onSave}
      onRevert={reset}
      formError={formError}
      savedAt={savedAt}
      canEdit={canEdit}
      actions={
        canEdit && (
          <Button variant="default" icon={<TrashIcon />} onClick={() => setConfirm(true)} data-testid="remove-hardware">
            Remove
          </Button>
        )
      }
    >
      <div className="grid gap-4 sm:grid-cols-3">
        <Field label="Bus" error={errors.bus} errorTestId="error-bus" hint="virtio is fastest; sata for guests without virtio drivers">
          <select className="input" value={draft.bus} onChange={(e) => set('bus', e.target.value as Disk['bus'])} disabled={!canEdit} data-testid="field-bus">
            <option value="virtio">virtio</option>
            <option value="scsi">SCSI (virtio-scsi)</option>
            <option value="sata">SATA</option>
          </select>
        </Field>
        <Field label="Format" error={errors.format} errorTestId="error-format">
          <select className="input" value={draft.format} onChange={(e) => set('format', e.target.value as Disk['format'])} disabled={!canEdit} data-testid="field-format">
            <option value="qcow2">qcow2</option>
            <option value="raw">raw</option>
          </select>
        </Field>
        <Field label="Cache mode" error={errors.cache} errorTestId="error-cache">
          <select className="input" value={draft.cache} onChange={(e) => set('cache', e.target.value as Disk['cache'])} disabled={!canEdit} data-testid="field-cache">
            {(['writeback', 'none', 'writethrough', 'directsync', 'unsafe'] as const).map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" className="h-4 w-4" checked={draft.readonly} onChange={(e) => set('readonly', e.target.checked)} disabled={!canEdit} data-testid="field-readonly" />
        Read-only
      </label>
      <ConfirmDialog
        open={confirm}
        onClose={() => setConfirm(false)}
        title={`Remove disk ${disk.id}?`}
        confirmLabel="Remove disk"
        onConfirm={async () => {
          const next = await rawPatch({ disks: vm.disks.filter((d) => d.id !== disk.id) });
          if (vm.runtime) setReport(reportFromView(`Remove disk ${disk.id}`, next, disk.id));
          onRemoved();
        }}
      >
        <p>
          <span className="font-mono">{disk.volume}</span> is detached from “{vm.name}”
          {vm.runtime ? ' (unplugged now if the guest allows it, otherwise at the next boot)' : ''}. The volume file stays in the storage pool.
        </p>
      </ConfirmDialog>
    </EditorShell>
  );
}

export function CdromEditor({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const { draft, set, dirty, reset, rebase } = useDraft({ cdrom: vm.cdrom ?? '' });
  const { save, busy, errors, formError, savedAt } = usePatch(vm);
  const { volumes, loading } = useVolumes();
  const isos = (volumes ?? []).filter((v) => v.format === 'iso');
  const { setReport } = useHotplugReport();
  const running = vm.runtime !== null;
  const verb = !draft.cdrom ? 'Eject' : vm.cdrom ? 'Change' : 'Insert';

  const apply = async (cdrom: string | null, what: string) => {
    const r = await save({ cdrom });
    if (r.ok && r.vm) {
      rebase({ cdrom: r.vm.cdrom ?? '' });
      if (running) setReport(reportFromView(what, r.vm, 'cd0'));
    }
  };
  const onSave = () => apply(draft.cdrom || null, draft.cdrom ? `${verb} CD-ROM media ${draft.cdrom.split('/')[1] ?? draft.cdrom}` : 'Eject the CD-ROM');
  const eject = () => apply(null, 'Eject the CD-ROM');

  return (
    <EditorShell
      item="cdrom"
      title="CD-ROM"
      subtitle={vm.cdrom ? <span className="font-mono">{vm.cdrom}</span> : 'No media'}
      deviceId={running && vm.devices?.cd0 ? 'cd0' : undefined}
      saveLabel={running ? verb : 'Save'}
      vm={vm}
      pendingFields={['cdrom']}
      dirty={dirty}
      busy={busy}
      onSave={onSave}
      onRevert={reset}
      formError={formError}
      savedAt={savedAt}
      canEdit={canEdit}
      actions={
        canEdit &&
        vm.cdrom && (
          <Button onClick={eject} disabled={busy} data-testid="cdrom-eject">
            Eject
          </Button>
        )
      }
    >
      <Field label="Media" error={errors.cdrom} errorTestId="error-cdrom" hint={!loading && isos.length === 0 ? 'There are no ISO images in the default pool.' : running ? 'The running VM gets the new media at once.' : undefined}>
        <select className="input" value={draft.cdrom} onChange={(e) => set('cdrom', e.target.value)} disabled={!canEdit} data-testid="field-cdrom">
          <option value="">(empty)</option>
          {isos.map((v) => (
            <option key={v.ref} value={v.ref}>
              {v.name} ({formatBytes(v.sizeBytes)})
            </option>
          ))}
          {draft.cdrom && !isos.some((v) => v.ref === draft.cdrom) && <option value={draft.cdrom}>{draft.cdrom}</option>}
        </select>
      </Field>
    </EditorShell>
  );
}

export function NicEditor({ vm, nic, canEdit, onRemoved }: { vm: VmView; nic: Nic; canEdit: boolean; onRemoved: () => void }) {
  const idx = vm.nics.findIndex((n) => n.id === nic.id);
  const { draft, set, dirty, reset, rebase } = useDraft({ model: nic.model, mac: nic.mac, linkUp: nic.linkUp });
  const { save, busy, errors, formError, savedAt } = usePatch(vm);
  const [confirm, setConfirm] = useState(false);
  const rawPatch = useRawPatch(vm);
  const { setReport } = useHotplugReport();

  const onSave = async () => {
    const nics = vm.nics.map((n) => (n.id === nic.id ? { ...n, ...draft, mac: draft.mac.trim() } : n));
    const r = await save({ nics }, ['nics', idx]);
    const saved = r.vm?.nics.find((n) => n.id === nic.id);
    if (r.ok && saved) rebase({ model: saved.model, mac: saved.mac, linkUp: saved.linkUp });
  };

  return (
    <EditorShell
      item={`nic-${nic.id}`}
      deviceId={nic.id}
      title={`Network interface ${nic.id}`}
      subtitle="User-mode NAT (the guest reaches out; nothing reaches in)"
      vm={vm}
      pendingFields={['nics']}
      dirty={dirty}
      busy={busy}
      onSave={onSave}
      onRevert={reset}
      formError={formError}
      savedAt={savedAt}
      canEdit={canEdit}
      actions={
        canEdit && (
          <Button icon={<TrashIcon />} onClick={() => setConfirm(true)} data-testid="remove-hardware">
            Remove
          </Button>
        )
      }
    >
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="Model" error={errors.model} errorTestId="error-model">
          <select className="input" value={draft.model} onChange={(e) => set('model', e.target.value as Nic['model'])} disabled={!canEdit} data-testid="field-model">
            <option value="virtio">virtio-net</option>
            <option value="e1000">e1000</option>
          </select>
        </Field>
        <Field label="MAC address" error={errors.mac} errorTestId="error-mac">
          <input className="input font-mono" value={draft.mac} onChange={(e) => set('mac', e.target.value)} disabled={!canEdit} spellCheck={false} autoComplete="off" data-testid="field-mac" />
        </Field>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" className="h-4 w-4" checked={draft.linkUp} onChange={(e) => set('linkUp', e.target.checked)} disabled={!canEdit} data-testid="field-linkUp" />
        Link up (cable plugged in)
      </label>
      <ConfirmDialog
        open={confirm}
        onClose={() => setConfirm(false)}
        title={`Remove network interface ${nic.id}?`}
        confirmLabel="Remove interface"
        onConfirm={async () => {
          const next = await rawPatch({ nics: vm.nics.filter((n) => n.id !== nic.id) });
          if (vm.runtime) setReport(reportFromView(`Remove network interface ${nic.id}`, next, nic.id));
          onRemoved();
        }}
      >
        <p>
          The {nic.model} interface <span className="font-mono">{nic.mac}</span> is removed from “{vm.name}”
          {vm.runtime ? ' (unplugged now if the guest allows it, otherwise at the next boot)' : ''}.
        </p>
      </ConfirmDialog>
    </EditorShell>
  );
}

export function VideoEditor({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const { draft, set, dirty, reset, rebase } = useDraft({ video: vm.video });
  const { save, busy, errors, formError, savedAt } = usePatch(vm);
  const onSave = async () => {
    const r = await save({ video: draft.video });
    if (r.ok && r.vm) rebase({ video: r.vm.video });
  };
  return (
    <EditorShell item="video" title="Display / Video" subtitle="VNC display, viewed in the Console tab" vm={vm} pendingFields={['video']} dirty={dirty} busy={busy} onSave={onSave} onRevert={reset} formError={formError} savedAt={savedAt} canEdit={canEdit}>
      <Field label="Video adapter" error={errors.video} errorTestId="error-video">
        <select className="input sm:w-64" value={draft.video} onChange={(e) => set('video', e.target.value as VmView['video'])} disabled={!canEdit} data-testid="field-video">
          <option value="std">Standard VGA (std)</option>
          <option value="virtio">virtio-gpu</option>
          <option value="none">None (serial only)</option>
        </select>
      </Field>
    </EditorShell>
  );
}
