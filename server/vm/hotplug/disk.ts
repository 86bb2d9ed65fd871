/**
 * Disk hotplug (QMP.md §4): blockdev-add of our own two nodes (`<id>-file`, `<id>-fmt`, the same
 * ones the argv builder creates at boot, so a hotplugged disk looks exactly like a cold one), then
 * device_add virtio-blk-pci on a free root port (q35) or pci.0 (pc), or scsi-hd on scsi0.0.
 * Detach: see unplug.ts. SATA (AHCI/IDE) devices cannot be hotplugged in QEMU at all, so SATA
 * disks are attached or detached at the next boot instead.
 *
 * The boot disk cannot be detached live: the first disk, when the boot order contains 'disk'
 * (the one the firmware boots from, bootindex-wise the first disk). Detaching it from a running
 * OS pulls its root file system away.
 */
import { ApiError } from '../../../lib/errors';
import type { Disk, Hardware } from '../../../lib/schemas/vm';
import { diskBlockdevs, diskDeviceProps, diskNodeNames, type DiskLocation } from '../../qemu/argv';
import type { BlockdevOptions, DeviceAddArgs } from '../../qemu/qmp/types';
import { bestEffort, hotplugError, LIVE, pending, type LiveCtx, type LiveOutcome } from './context';
import { releasePort, takePort, takeScsiId } from './ports';
import { unplugDevice } from './unplug';

export const SATA_ATTACH_REASON = 'SATA disks cannot be hotplugged (QEMU cannot hotplug AHCI/IDE devices); the disk is attached at next boot. Use virtio or SCSI to attach it live';
export const SATA_DETACH_REASON = 'SATA disks cannot be unplugged live (QEMU cannot hotplug AHCI/IDE devices); the disk is detached at next boot';
export const BOOT_DISK_REASON = 'The boot disk cannot be detached from a running VM; it is detached at next boot';
export const DISK_CHANGE_REASON = 'Changing an attached disk (volume, bus, cache, read-only) applies at next boot';

/** The disk the VM boots from, if any. */
export function bootDiskId(hw: Pick<Hardware, 'bootOrder' | 'disks'>): string | null {
  return hw.bootOrder.includes('disk') && hw.disks.length > 0 ? hw.disks[0].id : null;
}

export async function attachDiskLive(ctx: LiveCtx, disk: Disk): Promise<LiveOutcome> {
  const st = ctx.state;
  const live = ctx.record.live;
  if (live.disks.some((d) => d.id === disk.id) || st.unplugs[disk.id]) {
    throw new ApiError('INVALID_STATE', `The running VM already has a device "${disk.id}"`);
  }
  if (disk.bus === 'sata') return pending(SATA_ATTACH_REASON);
  const filename = ctx.resolve(disk.volume);
  ctx.grant(filename, disk.readonly ? 'ro' : 'rw');
  let where: DiskLocation;
  let port: string | null = null;
  let scsiId: number | null = null;
  if (disk.bus === 'virtio') {
    const p = takePort(st, disk.id);
    port = p.port;
    where = { bus: 'virtio', placement: { bus: p.bus } };
  } else {
    scsiId = takeScsiId(st, disk.id);
    where = { bus: 'scsi', scsiId };
  }
  st.intent = { op: 'attach-disk', disk, port, scsiId };
  ctx.persist();
  const added: string[] = [];
  try {
    for (const node of diskBlockdevs(disk, filename)) {
      await ctx.qmp.execute('blockdev-add', node as BlockdevOptions);
      added.push(node['node-name'] as string);
    }
    await ctx.qmp.execute('device_add', diskDeviceProps(disk, where) as DeviceAddArgs);
    live.disks.push(disk);
  } catch (e) {
    for (const node of added.reverse()) await bestEffort(ctx.qmp.execute('blockdev-del', { 'node-name': node }));
    releasePort(st, disk.id);
    delete st.scsiIds[disk.id];
    throw hotplugError(e, `Could not attach disk ${disk.id}`);
  } finally {
    st.intent = null;
    ctx.persist();
  }
  return LIVE;
}

/**
 * `strict`: the caller asked for exactly this detach (DELETE .../disks/{id}), so refusing the boot
 * disk is an error (BOOT_DISK); a whole-config edit (PATCH) stores it as pending instead.
 */
export async function detachDiskLive(ctx: LiveCtx, id: string, strict: boolean): Promise<LiveOutcome> {
  const live = ctx.record.live;
  const disk = live.disks.find((d) => d.id === id);
  if (!disk) return LIVE; // the running VM never had it (a pending attach): nothing to do live
  if (bootDiskId(live) === id) {
    if (strict) throw new ApiError('BOOT_DISK', `${id} is the boot disk of the running VM and cannot be detached live; shut the VM down first`);
    return pending(BOOT_DISK_REASON);
  }
  if (disk.bus === 'sata') return pending(SATA_DETACH_REASON);
  const n = diskNodeNames(id);
  return unplugDevice(ctx, { kind: 'disk', id, nodes: [n.fmt, n.file], netdev: null, object: null });
}
