/**
 * PCI(e) topology: where every PCI device goes, the PCIe root ports of a q35 VM, and the devices
 * every VM has (balloon, SCSI controller).
 *
 * Addresses are explicit, never left to QEMU's "first free slot", so a guest sees the same
 * topology whatever else changes in the config: adding a disk must not renumber the NIC (Linux
 * names NICs after their PCI path, enp<bus>s<slot>).
 *
 * q35 (pcie.0 is NOT hotpluggable, QMP.md §1.1 / pitfall 5), one root port per PCIe device:
 *   0x01 video0 · 0x02 balloon0 · 0x03 scsi0 (integrated endpoints, never unplugged)
 *   0x10.0-7  rp1..rp8    spare ports, all free at boot: the hotplug code allocates from these
 *   0x11.0-7  rp9..rp16   cold NIC i      → rp(9+i)
 *   0x12-0x13 rp17..rp32  cold virtio disk i → rp(17+i)
 *   0x1f      ICH9 LPC + AHCI (ide.0..ide.5, built in)
 *   Cold NICs and virtio disks get their own root ports rather than sitting on pcie.0, so that they
 *   can be unplugged live exactly like hotplugged ones; a port freed that way may be reused.
 *   Root ports exist only for the NICs/disks in the config (a slot's functions must start at 0).
 *   Firmware numbers buses depth-first in address order, so NIC i always lands on bus 9+i.
 *
 * pc (i440fx: every pci.0 slot is ACPI-hotpluggable, cold-plugged devices included):
 *   0x01 PIIX3 (+IDE) · 0x02 video0 · 0x03 balloon0 · 0x04 scsi0
 *   0x05..0x0c NIC i · 0x0d..0x1c virtio disk i · the rest (and unused slots) for hotplug, where
 *   device_add without an address takes the first free slot.
 */
import type { VmConfig } from '../../../lib/schemas/vm';
import { BALLOON_ID, SCSI_CONTROLLER_ID, rootPortId } from './ids';
import { device, pciAddr } from './opts';

type Machine = VmConfig['machine'];

/** Spare (free at boot) root ports of every q35 VM: rp1..rp8, the hotplug budget. */
export const PCIE_ROOT_PORTS = 8;
/** Cold NIC i sits on root port NIC_PORT_BASE + i; the schema allows at most 8 NICs. */
export const NIC_PORT_BASE = 9;
/** Cold virtio disk i sits on root port DISK_PORT_BASE + i; the schema allows at most 16 disks. */
export const DISK_PORT_BASE = 17;
const FIRST_PORT_SLOT = 0x10;

/** Where a PCI device goes: a bus, and on a root bus an explicit slot. */
export interface Placement {
  bus: string;
  addr?: string;
}

const FIXED_SLOTS = {
  q35: { video: 0x01, balloon: 0x02, scsi: 0x03 },
  pc: { video: 0x02, balloon: 0x03, scsi: 0x04 },
} as const;
const PC_NIC_SLOT = 0x05;
const PC_DISK_SLOT = 0x0d;

export function rootBus(machine: Machine): string {
  return machine === 'q35' ? 'pcie.0' : 'pci.0';
}

export function fixedPlacement(machine: Machine, what: 'video' | 'balloon' | 'scsi'): Placement {
  return { bus: rootBus(machine), addr: pciAddr(FIXED_SLOTS[machine][what]) };
}

/** The index-th NIC of the config (in config order). */
export function nicPlacement(machine: Machine, index: number): Placement {
  return machine === 'q35' ? { bus: rootPortId(NIC_PORT_BASE + index) } : { bus: 'pci.0', addr: pciAddr(PC_NIC_SLOT + index) };
}

/** The index-th *virtio* disk of the config (SCSI and SATA disks do not use PCI slots). */
export function virtioDiskPlacement(machine: Machine, index: number): Placement {
  return machine === 'q35' ? { bus: rootPortId(DISK_PORT_BASE + index) } : { bus: 'pci.0', addr: pciAddr(PC_DISK_SLOT + index) };
}

// ---- root ports ---------------------------------------------------------------------------------

/** The numbers of the root ports a config gets (empty on pc). */
function rootPortNumbers(config: VmConfig): number[] {
  if (config.machine !== 'q35') return [];
  const nics = config.nics.length;
  const virtioDisks = config.disks.filter((d) => d.bus === 'virtio').length;
  const spare = Array.from({ length: PCIE_ROOT_PORTS }, (_, i) => 1 + i);
  const nicPorts = Array.from({ length: nics }, (_, i) => NIC_PORT_BASE + i);
  const diskPorts = Array.from({ length: virtioDisks }, (_, i) => DISK_PORT_BASE + i);
  return [...spare, ...nicPorts, ...diskPorts];
}

/** Ids of every root port the VM is started with (spare and cold), in address order. */
export function rootPortIds(config: VmConfig): string[] {
  return rootPortNumbers(config).map(rootPortId);
}

/** Ids of the root ports that are free at boot (rp1..rp8 on q35; none on pc, which needs none). */
export function hotplugRootPortIds(config: VmConfig): string[] {
  return config.machine === 'q35' ? Array.from({ length: PCIE_ROOT_PORTS }, (_, i) => rootPortId(1 + i)) : [];
}

/** Which root port each cold NIC and virtio disk occupies at boot (q35 only): device id → port id. */
export function coldRootPorts(config: VmConfig): Record<string, string> {
  if (config.machine !== 'q35') return {};
  const map: Record<string, string> = {};
  config.nics.forEach((n, i) => (map[n.id] = rootPortId(NIC_PORT_BASE + i)));
  config.disks.filter((d) => d.bus === 'virtio').forEach((d, i) => (map[d.id] = rootPortId(DISK_PORT_BASE + i)));
  return map;
}

/**
 * Root port n lives at slot 0x10 + (n-1)/8, function (n-1)%8; chassis and port number are n, which
 * keeps the (chassis, slot) pairs unique as PCIe requires. Function 0 of each slot carries
 * multifunction=on so that functions 1-7 can exist (QMP.md §1.1).
 */
export function rootPortArgs(n: number): string[] {
  const slot = FIRST_PORT_SLOT + Math.floor((n - 1) / 8);
  const fn = (n - 1) % 8;
  return device('pcie-root-port', {
    id: rootPortId(n),
    chassis: n,
    port: n,
    bus: 'pcie.0',
    addr: pciAddr(slot, fn),
    multifunction: fn === 0 ? true : undefined,
  });
}

export function rootPortsArgs(config: VmConfig): string[] {
  return rootPortNumbers(config).flatMap(rootPortArgs);
}

// ---- devices every VM has -----------------------------------------------------------------------

/** The balloon (for balloonMiB and guest memory stats) and the SCSI controller (for SCSI hotplug). */
export function baseDevicesArgs(config: VmConfig): string[] {
  return [
    ...device('virtio-balloon-pci', { id: BALLOON_ID, ...fixedPlacement(config.machine, 'balloon') }),
    ...device('virtio-scsi-pci', { id: SCSI_CONTROLLER_ID, ...fixedPlacement(config.machine, 'scsi') }),
  ];
}
