/**
 * PATCH /api/vms/{id} on a running VM: the hardware editor's whole-config edit, applied live
 * where a live path exists, through the same device functions as the hotplug endpoints. Only the
 * fields the patch names are looked at, and each is compared with what QEMU has (record.live), so
 * a patch that touches nothing hardware-related does nothing to the running VM.
 *
 * Anything that cannot happen live — a reduction the QEMU cannot do safely, the boot disk, a SATA
 * device, a changed device, no free port, a QEMU refusal — is recorded as pending with its reason
 * instead of failing the edit: the config is saved either way and the next boot applies it.
 */
import type { Disk, Nic, VmConfig } from '../../../lib/schemas/vm';
import type { HardwareField } from '../pending';
import { setCdromLive } from './cdrom';
import { errText, type LiveCtx, type LiveOutcome } from './context';
import { setVcpusLive } from './cpu';
import { attachDiskLive, detachDiskLive, DISK_CHANGE_REASON } from './disk';
import { setBalloonLive, setMemoryLive } from './memory';
import { attachNicLive, detachNicLive, NIC_CHANGE_REASON, setLinkLive } from './nic';

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function applyPatchLive(ctx: LiveCtx, fields: string[], next: VmConfig): Promise<void> {
  const live = ctx.record.live;
  const reasons = ctx.record.pendingReasons;
  const note = (field: HardwareField, device: string | null, o: LiveOutcome) => {
    if (o.result === 'live') return;
    reasons[field] = o.reason;
    if (device) ctx.state.reasons[device] = o.reason;
  };
  const attempt = async (field: HardwareField, device: string | null, fn: () => Promise<LiveOutcome>) => {
    try {
      note(field, device, await fn());
    } catch (e) {
      note(field, device, { result: 'pending', reason: `Not applied live (${errText(e)}); applies at next boot` });
    }
  };

  if (fields.includes('vcpus') && next.vcpus !== live.vcpus) {
    await attempt('vcpus', null, async () =>
      next.vcpus > live.maxVcpus ? { result: 'pending', reason: `The running VM was started with at most ${live.maxVcpus} vCPUs` } : setVcpusLive(ctx, next.vcpus),
    );
  }
  if (fields.includes('memoryMiB') && next.memoryMiB !== live.memoryMiB) {
    await attempt('memoryMiB', null, async () =>
      next.memoryMiB > live.maxMemoryMiB ? { result: 'pending', reason: `The running VM was started with at most ${live.maxMemoryMiB} MiB` } : setMemoryLive(ctx, next.memoryMiB),
    );
  }
  if (fields.includes('balloonMiB') && next.balloonMiB !== live.balloonMiB && (next.balloonMiB ?? 0) <= live.memoryMiB) {
    try {
      await setBalloonLive(ctx, next.balloonMiB);
    } catch {
      /* applied at next boot by startupCommands */
    }
  }
  if (fields.includes('disks')) await applyDevices('disks', live.disks, next.disks, DISK_CHANGE_REASON, ctx, attempt, (d) => attachDiskLive(ctx, d as Disk), (id) => detachDiskLive(ctx, id, false));
  if (fields.includes('nics')) {
    await applyDevices('nics', live.nics, next.nics, NIC_CHANGE_REASON, ctx, attempt, (n) => attachNicLive(ctx, n as Nic), (id) => detachNicLive(ctx, id));
    for (const n of next.nics) {
      const l = live.nics.find((x) => x.id === n.id);
      if (l && l.linkUp !== n.linkUp && same({ ...l, linkUp: n.linkUp }, n)) await attempt('nics', n.id, () => setLinkLive(ctx, n.id, n.linkUp));
    }
  }
  if (fields.includes('cdrom') && next.cdrom !== live.cdrom) await attempt('cdrom', 'cd0', () => setCdromLive(ctx, next.cdrom));
}

async function applyDevices<T extends { id: string }>(
  field: 'disks' | 'nics',
  liveList: T[],
  wanted: T[],
  changeReason: string,
  ctx: LiveCtx,
  attempt: (field: HardwareField, device: string | null, fn: () => Promise<LiveOutcome>) => Promise<void>,
  add: (d: T) => Promise<LiveOutcome>,
  remove: (id: string) => Promise<LiveOutcome>,
): Promise<void> {
  // Removals first: they free the ports the additions may need.
  for (const l of [...liveList]) {
    if (wanted.some((w) => w.id === l.id) || ctx.state.unplugs[l.id]) continue;
    await attempt(field, l.id, () => remove(l.id));
  }
  for (const w of wanted) {
    const l = liveList.find((x) => x.id === w.id);
    if (!l) await attempt(field, w.id, () => add(w));
    else if (!same({ ...l, linkUp: true }, { ...w, linkUp: true })) {
      ctx.state.reasons[w.id] = changeReason;
      ctx.record.pendingReasons[field] = changeReason;
    }
  }
}
