/**
 * Slot and id allocation for hotplug. q35's pcie.0 refuses hotplug, so every PCI device added live
 * needs a free pcie-root-port created at launch (QMP.md pitfall 5): the spare rp1..rp8, plus any
 * cold port whose device has been unplugged. pc (i440fx) hotplugs onto pci.0 directly and QEMU
 * picks the slot. SCSI disks take a scsi-id on the always-present controller instead of a port.
 *
 * Allocation reads and writes HotplugState, which only changes under the VM's lock and is
 * persisted before QMP is told anything, so two hotplugs never get the same port or id — not even
 * across a server restart in the middle of one.
 */
import { ApiError } from '../../../lib/errors';
import type { Hardware } from '../../../lib/schemas/vm';
import { isReservedDeviceId } from '../../qemu/argv';
import { portNumber, type HotplugState } from './state';

/** Device id → port for the devices that sit on root ports. */
export function freePorts(state: HotplugState): string[] {
  return Object.entries(state.ports)
    .filter(([, dev]) => dev === null)
    .map(([p]) => p)
    .sort((a, b) => portNumber(a) - portNumber(b));
}

/**
 * The PCI placement for a new device: a free root port on q35 (reserved for `deviceId` at once),
 * pci.0 on pc. Throws HOTPLUG_NO_SLOT when every port is taken.
 */
export function takePort(state: HotplugState, deviceId: string): { bus: string; port: string | null } {
  if (state.machine !== 'q35') return { bus: 'pci.0', port: null };
  const free = freePorts(state);
  if (free.length === 0) {
    const total = Object.keys(state.ports).length;
    throw new ApiError('HOTPLUG_NO_SLOT', `No free PCIe root port: all ${total} are in use. Detach a disk or NIC first, or add it as a SCSI disk, or change the config and reboot`, {
      ports: state.ports,
    });
  }
  state.ports[free[0]] = deviceId;
  return { bus: free[0], port: free[0] };
}

export function releasePort(state: HotplugState, deviceId: string): void {
  for (const [p, dev] of Object.entries(state.ports)) if (dev === deviceId) state.ports[p] = null;
}

/** The port a device occupies, if any. */
export function portOf(state: HotplugState, deviceId: string): string | null {
  return Object.entries(state.ports).find(([, dev]) => dev === deviceId)?.[0] ?? null;
}

/** virtio-scsi allows targets 0..255; the lowest free one. */
export function takeScsiId(state: HotplugState, deviceId: string): number {
  const used = new Set(Object.values(state.scsiIds));
  for (let i = 0; i < 256; i++) {
    if (!used.has(i)) {
      state.scsiIds[deviceId] = i;
      return i;
    }
  }
  throw new ApiError('HOTPLUG_NO_SLOT', 'The SCSI controller has no free target');
}

/** Every id a new disk or NIC must not take: config, live, unplugging, and built-in ids. */
export function takenIds(stored: Pick<Hardware, 'disks' | 'nics'>, live: Pick<Hardware, 'disks' | 'nics'> | null, state: HotplugState | null): Set<string> {
  const ids = new Set<string>();
  for (const hw of [stored, live]) {
    if (!hw) continue;
    for (const d of hw.disks) ids.add(d.id);
    for (const n of hw.nics) ids.add(n.id);
  }
  if (state) for (const id of Object.keys(state.unplugs)) ids.add(id);
  return ids;
}

/** `<prefix>N` with the lowest N not taken. */
export function nextId(prefix: string, taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}${i}`;
    if (!taken.has(id) && !isReservedDeviceId(id)) return id;
  }
}

/** Checks a caller-chosen id. */
export function checkNewId(id: string, taken: Set<string>): void {
  if (isReservedDeviceId(id)) throw new ApiError('VALIDATION_FAILED', `Device id "${id}" is reserved for a built-in device; choose another`);
  if (taken.has(id)) throw new ApiError('VALIDATION_FAILED', `This VM already has a device "${id}"`);
}
