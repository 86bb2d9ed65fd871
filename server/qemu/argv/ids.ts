/**
 * The naming scheme of every QEMU id this project creates: device ids, block node-names, netdev
 * ids, chardev ids and QOM object ids. Cold-plug (this builder), hotplug, unplug and the
 * reconciliation after a server restart all derive names from here, so a device can always be
 * found again by its name alone (QMP.md §9: persist ids, reconcile by query).
 *
 * User-chosen device ids (disks and NICs) match DEVICE_ID_RE (`[a-z][a-z0-9]{0,15}`) and are used
 * verbatim as QEMU device ids. Everything derived from them contains a "-", which DEVICE_ID_RE
 * forbids, so derived names can never collide with a user id. The fixed infrastructure ids below
 * (cd0, scsi0, rpN, cpuN, ...) *can* collide with a user id; isReservedDeviceId tells which ids a
 * disk or NIC must not take, and buildArgv refuses a config that uses one.
 */

import { RESERVED_DEVICE_ID_RE } from '../../../lib/schemas/common';

// ---- fixed devices -------------------------------------------------------------------------------

/** The display adapter (VGA or virtio-vga); absent when video is 'none'. */
export const VIDEO_ID = 'video0';
/** Always present, so the balloon target and guest stats are available on every VM. */
export const BALLOON_ID = 'balloon0';
/** The virtio-scsi controller, always present: SCSI disks hotplug onto it without using a root port. */
export const SCSI_CONTROLLER_ID = 'scsi0';
/** SCSI disks sit on the controller's first bus. */
export const SCSI_BUS = `${SCSI_CONTROLLER_ID}.0`;
/** The CD-ROM drive, always present (empty if no medium) so media can be changed live. */
export const CDROM_ID = 'cd0';

// ---- chardevs (their own namespace) ----------------------------------------------------------

export const QMP_CHARDEV_ID = 'qmp';
export const SERIAL_CHARDEV_ID = 'serial0';

// ---- derived names -----------------------------------------------------------------------------

/** Block node-names of a disk: the protocol node (`driver: file`) and the format node on top of it. */
export function diskNodeNames(diskId: string): { file: string; fmt: string } {
  return { file: `${diskId}-file`, fmt: `${diskId}-fmt` };
}

/**
 * The CD-ROM medium's node (a raw node with a nested, unnamed file child, so one blockdev-del
 * frees both). Generation 0 is the medium inserted at boot; a live media change must use a fresh
 * generation because the old node may still exist until it has been deleted (QMP.md §4.4).
 */
export function cdromMediaNode(generation = 0): string {
  return generation === 0 ? `${CDROM_ID}-media` : `${CDROM_ID}-media${generation}`;
}

/** The netdev (backend) of a NIC. */
export function netdevId(nicId: string): string {
  return `${nicId}-net`;
}

/** The vCPU device with core-id `index` (index ≥ 1: cpu0 comes from -smp and cannot be unplugged). */
export function cpuDeviceId(index: number): string {
  return `cpu${index}`;
}

/** PCIe root port number n (1-based); see devices.ts for the port map. */
export function rootPortId(n: number): string {
  return `rp${n}`;
}

/** A pc-dimm and its memory backend object. */
export function dimmIds(n: number): { device: string; backend: string } {
  return { device: `dimm${n}`, backend: `mem-dimm${n}` };
}

// ---- reserved ids ------------------------------------------------------------------------------

/** Ids (in DEVICE_ID_RE's alphabet) that belong to infrastructure, not to a user's disk or NIC (defined with the schemas, which refuse them). */
export { RESERVED_DEVICE_ID_RE };

export function isReservedDeviceId(id: string): boolean {
  return RESERVED_DEVICE_ID_RE.test(id);
}
