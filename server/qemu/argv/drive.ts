/**
 * Disks and the CD-ROM.
 *
 * Each disk is two explicitly named block nodes — a protocol node `<id>-file` (driver file) and a
 * format node `<id>-fmt` (qcow2/raw) — plus a guest device `<id>` whose `drive` is the format node
 * (QMP.md §1.1, §4). The node and device descriptions are plain objects that work both here (as
 * `-blockdev <json>` / `-device k=v`) and as blockdev-add / device_add arguments, so hotplug
 * produces exactly what a cold boot would.
 *
 * -blockdev uses the JSON form: file paths come from user-chosen volumes, and JSON needs no
 * escaping convention, so no path can break or extend the option.
 *
 * Buses: virtio → virtio-blk-pci on its own PCI slot / root port (devices.ts); scsi → scsi-hd on
 * the always-present virtio-scsi controller, scsi-id = index among the SCSI disks; sata → ide-hd
 * on the q35 AHCI ports or the pc IDE channels. The CD-ROM takes Proxmox's "ide2" position on
 * both machines (q35 ide.2, pc secondary master), SATA disks fill the remaining positions.
 * IDE/AHCI devices cannot be hotplugged in QEMU, and ide-hd refuses a read-only node.
 */
import { ApiError } from '../../../lib/errors';
import type { Disk, VmConfig } from '../../../lib/schemas/vm';
import { CDROM_ID, SCSI_BUS, cdromMediaNode, diskNodeNames } from './ids';
import { type Placement, virtioDiskPlacement } from './devices';
import { type OptValue, blockdev, device } from './opts';

type Machine = VmConfig['machine'];
type Props = { driver: string; id: string } & Record<string, OptValue>;

// ---- cache modes ------------------------------------------------------------------------------

export interface CacheOptions {
  /** O_DIRECT: bypass the host page cache. */
  direct: boolean;
  /** Ignore the guest's flush requests (fast, loses data on a host crash). */
  noFlush: boolean;
  /** The device's write cache: off makes every write synchronous (writethrough semantics). */
  writeCache: 'on' | 'off';
}

/** The classic -drive cache= modes, spelled in -blockdev terms (as QEMU's own mapping does). */
export const CACHE_MODES: Record<Disk['cache'], CacheOptions> = {
  none: { direct: true, noFlush: false, writeCache: 'on' },
  writeback: { direct: false, noFlush: false, writeCache: 'on' },
  writethrough: { direct: false, noFlush: false, writeCache: 'off' },
  directsync: { direct: true, noFlush: false, writeCache: 'off' },
  unsafe: { direct: false, noFlush: true, writeCache: 'on' },
};

// ---- IDE/AHCI positions -----------------------------------------------------------------------

export interface IdeSlot {
  bus: string;
  unit: number;
}

/** The CD-ROM's position: q35 AHCI port 2, pc secondary master. */
export function cdromSlot(machine: Machine): IdeSlot {
  return machine === 'q35' ? { bus: 'ide.2', unit: 0 } : { bus: 'ide.1', unit: 0 };
}

/** The positions SATA disks take, in config order (AHCI ports take one device each). */
export function sataSlots(machine: Machine): IdeSlot[] {
  return machine === 'q35'
    ? ['ide.0', 'ide.1', 'ide.3', 'ide.4', 'ide.5'].map((bus) => ({ bus, unit: 0 }))
    : [
        { bus: 'ide.0', unit: 0 },
        { bus: 'ide.0', unit: 1 },
        { bus: 'ide.1', unit: 1 },
      ];
}

/** Where a SCSI disk sits on the controller. */
export function scsiAddress(scsiId: number): { bus: string; channel: number; 'scsi-id': number; lun: number } {
  return { bus: SCSI_BUS, channel: 0, 'scsi-id': scsiId, lun: 0 };
}

// ---- disks ------------------------------------------------------------------------------------

/** blockdev-add arguments for a disk: protocol node first, then the format node on top of it. */
export function diskBlockdevs(disk: Disk, filename: string): [Record<string, unknown>, Record<string, unknown>] {
  const names = diskNodeNames(disk.id);
  const c = CACHE_MODES[disk.cache];
  const cache = { direct: c.direct, 'no-flush': c.noFlush };
  return [
    { driver: 'file', 'node-name': names.file, filename, 'read-only': disk.readonly, cache },
    { driver: disk.format, 'node-name': names.fmt, file: names.file, 'read-only': disk.readonly, cache },
  ];
}

/** Where a disk's device goes, depending on its bus. */
export type DiskLocation =
  | { bus: 'virtio'; placement: Placement }
  | { bus: 'scsi'; scsiId: number }
  | { bus: 'sata'; slot: IdeSlot };

/** device_add arguments for a disk (also rendered as its -device). */
export function diskDeviceProps(disk: Disk, where: DiskLocation, bootindex?: number): Props {
  const common: Record<string, OptValue | undefined> = {
    drive: diskNodeNames(disk.id).fmt,
    serial: disk.id,
    bootindex,
    // Only the non-default is spelled out; a read-only disk has no writes to cache.
    'write-cache': !disk.readonly && CACHE_MODES[disk.cache].writeCache === 'off' ? 'off' : undefined,
  };
  let props: Record<string, OptValue | undefined>;
  if (where.bus === 'virtio') props = { driver: 'virtio-blk-pci', id: disk.id, ...where.placement, ...common };
  else if (where.bus === 'scsi') props = { driver: 'scsi-hd', id: disk.id, ...scsiAddress(where.scsiId), ...common };
  else props = { driver: 'ide-hd', id: disk.id, bus: where.slot.bus, unit: where.slot.unit, ...common };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as Props;
}

/** Assigns every disk of the config its location, refusing what QEMU could not start. */
export function diskLocations(config: VmConfig): Map<string, DiskLocation> {
  const out = new Map<string, DiskLocation>();
  const sata = sataSlots(config.machine);
  let virtio = 0;
  let scsi = 0;
  let ide = 0;
  config.disks.forEach((d, i) => {
    if (d.bus === 'virtio') out.set(d.id, { bus: 'virtio', placement: virtioDiskPlacement(config.machine, virtio++) });
    else if (d.bus === 'scsi') out.set(d.id, { bus: 'scsi', scsiId: scsi++ });
    else {
      if (d.readonly) {
        throw new ApiError('VALIDATION_FAILED', `Disk ${d.id}: a SATA disk cannot be read-only (QEMU's ide-hd refuses it); use virtio or SCSI`, {
          path: ['disks', i, 'readonly'],
        });
      }
      if (ide >= sata.length) {
        throw new ApiError('RESOURCE_LIMIT', `A ${config.machine} VM has room for ${sata.length} SATA disks (next to the CD-ROM)`, {
          path: ['disks', i, 'bus'],
        });
      }
      out.set(d.id, { bus: 'sata', slot: sata[ide++] });
    }
  });
  return out;
}

function deviceArgs(props: Props): string[] {
  const { driver, ...rest } = props;
  return device(driver, rest);
}

export function disksArgs(config: VmConfig, resolveVolume: (ref: string) => string, boot: Map<string, number>): string[] {
  const locations = diskLocations(config);
  const args: string[] = [];
  for (const disk of config.disks) {
    const [file, fmt] = diskBlockdevs(disk, resolveVolume(disk.volume));
    args.push(...blockdev(file), ...blockdev(fmt));
    args.push(...deviceArgs(diskDeviceProps(disk, locations.get(disk.id)!, boot.get(disk.id))));
  }
  return args;
}

// ---- CD-ROM -------------------------------------------------------------------------------------

/**
 * blockdev-add arguments for a CD-ROM medium: a read-only raw node with a nested file child, so a
 * single blockdev-del removes both on eject (QMP.md §4.1).
 */
export function cdromBlockdev(filename: string, generation = 0): Record<string, unknown> {
  return {
    driver: 'raw',
    'node-name': cdromMediaNode(generation),
    'read-only': true,
    file: { driver: 'file', filename, 'read-only': true },
  };
}

export function cdromDeviceProps(machine: Machine, bootindex: number | undefined, withMedium: boolean): Props {
  const slot = cdromSlot(machine);
  const props: Record<string, OptValue | undefined> = {
    driver: 'ide-cd',
    id: CDROM_ID,
    bus: slot.bus,
    unit: slot.unit,
    drive: withMedium ? cdromMediaNode(0) : undefined,
    bootindex,
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as Props;
}

/** The drive is always there; without a medium it starts empty (tray closed, no node). */
export function cdromArgs(config: VmConfig, resolveVolume: (ref: string) => string, boot: Map<string, number>): string[] {
  const args: string[] = [];
  if (config.cdrom) args.push(...blockdev(cdromBlockdev(resolveVolume(config.cdrom))));
  args.push(...deviceArgs(cdromDeviceProps(config.machine, boot.get(CDROM_ID), config.cdrom !== null)));
  return args;
}
