/**
 * Machine type, accelerator, CPU model, vCPU topology and memory — the parts whose limits are
 * fixed at launch (maxcpus, slots, maxmem cannot be raised later, QMP.md pitfall 4), so they are
 * always sized for the config's max values, not the current ones.
 *
 * vCPUs: `-smp 1,...,maxcpus=<max>` and every vCPU beyond the first cold-plugged as a
 * `-device <model>-x86_64-cpu,id=cpuN`, the way Proxmox does it (QMP.md §2): only cpu0 (from
 * -smp) is permanent; cpu1..cpuN are ordinary devices that can be unplugged later. The topology
 * is one socket with maxVcpus cores, so slot N is core-id N.
 */
import { ApiError } from '../../../lib/errors';
import type { VmConfig } from '../../../lib/schemas/vm';
import { DIMM_BLOCK_MIB } from '../../../lib/schemas/vm';
import { cpuDeviceId } from './ids';
import { device, kv } from './opts';

export type Accel = 'kvm' | 'tcg';

/** Most DIMM slots a VM gets: each costs ACPI table space and a KVM memslot. */
export const MAX_MEMORY_SLOTS = 16;

/** `-cpu host` under KVM (full host features); `qemu64` under TCG, where `host` does not exist. */
export function cpuModel(accel: Accel): 'host' | 'qemu64' {
  return accel === 'kvm' ? 'host' : 'qemu64';
}

/**
 * The QOM type of a hotpluggable vCPU. The hotplug code should still prefer the `type` reported by
 * query-hotpluggable-cpus (QMP.md §2); this is what cold-plug uses and what that query returns.
 */
export function cpuDriver(accel: Accel): string {
  return `${cpuModel(accel)}-x86_64-cpu`;
}

/** The properties of the vCPU in slot `index` (0-based core id), as device_add takes them. */
export function cpuSlotProps(index: number): { 'socket-id': number; 'core-id': number; 'thread-id': number } {
  return { 'socket-id': 0, 'core-id': index, 'thread-id': 0 };
}

/**
 * DIMM slots for memory hotplug: one per 128 MiB block of headroom, capped at MAX_MEMORY_SLOTS
 * (larger headroom is then filled with larger DIMMs). 0 when there is no headroom, in which case
 * the VM gets plain `-m` and memory cannot be hotplugged.
 */
export function memorySlots(config: Pick<VmConfig, 'memoryMiB' | 'maxMemoryMiB'>): number {
  const headroom = config.maxMemoryMiB - config.memoryMiB;
  if (headroom <= 0) return 0;
  return Math.min(MAX_MEMORY_SLOTS, Math.ceil(headroom / DIMM_BLOCK_MIB));
}

const GIB = 1024; // in MiB
const roundUpGiB = (mib: number) => Math.ceil(mib / GIB) * GIB;

/**
 * Highest guest-physical address (MiB) QEMU 7.2 lays out for this config: RAM below 4 GiB up to
 * the machine's low-memory split (q35: 2 GiB once RAM ≥ 2.75 GiB; pc: 3 GiB once RAM ≥ 3.5 GiB),
 * the rest above 4 GiB, then the DIMM hotplug region (headroom + 1 GiB alignment per slot), then
 * the 64-bit PCI hole (32 GiB on q35, 2 GiB on pc). Mirrors pc_memory_init/pc_max_used_gpa.
 */
export function guestPhysTopMiB(config: Pick<VmConfig, 'machine' | 'memoryMiB' | 'maxMemoryMiB'>): number {
  const mem = config.memoryMiB;
  const lowmem = config.machine === 'q35' ? (mem >= 2816 ? 2048 : 2816) : mem >= 3584 ? 3072 : 3584;
  let top = 4 * GIB + (mem >= lowmem ? mem - lowmem : 0);
  const slots = memorySlots(config);
  if (slots > 0) top = roundUpGiB(top) + (config.maxMemoryMiB - mem) + slots * GIB;
  return roundUpGiB(top) + (config.machine === 'q35' ? 32 : 2) * GIB;
}

/**
 * The guest-physical address space we can count on: 40 phys-bits (QEMU's default; qemu64 under
 * TCG) minus the AMD HyperTransport hole at 1012 GiB — qemu64 reports an AMD vendor, and QEMU then
 * relocates memory crossing the hole above 1 TiB, out of 40-bit reach. Measured on 7.2: q35 with
 * 1 GiB RAM and 16 slots starts with maxmem 960 GiB and fails at 961 GiB ("phys-bits too low").
 * Under KVM, -cpu host follows the host's phys-bits, which may allow more or (39-bit hosts) less.
 */
export const GUEST_PHYS_LIMIT_MIB = 1012 * GIB;

/** Refuses a memory layout QEMU would reject at start-up with a cryptic message. */
export function checkAddressSpace(config: Pick<VmConfig, 'machine' | 'memoryMiB' | 'maxMemoryMiB'>): void {
  const top = guestPhysTopMiB(config);
  if (top > GUEST_PHYS_LIMIT_MIB) {
    const over = Math.ceil((top - GUEST_PHYS_LIMIT_MIB) / GIB);
    throw new ApiError(
      'RESOURCE_LIMIT',
      `Max memory is too large for the guest's 40-bit address space: lower it by at least ${over} GiB`,
      { path: ['maxMemoryMiB'], topMiB: top, limitMiB: GUEST_PHYS_LIMIT_MIB },
    );
  }
}

export function machineArgs(config: VmConfig, accel: Accel): string[] {
  checkAddressSpace(config);
  const slots = memorySlots(config);
  const mem =
    slots > 0
      ? kv(`${config.memoryMiB}M`, { slots, maxmem: `${config.maxMemoryMiB}M` })
      : `${config.memoryMiB}M`;
  return [
    '-machine',
    kv(config.machine, { accel }),
    '-cpu',
    cpuModel(accel),
    '-smp',
    kv('1', { sockets: 1, cores: config.maxVcpus, threads: 1, maxcpus: config.maxVcpus }),
    '-m',
    mem,
    // Windows keeps the RTC in local time, everything else in UTC.
    '-rtc',
    kv(null, { base: config.osPreset === 'windows' ? 'localtime' : 'utc' }),
  ];
}

/** vCPUs 2..vcpus, cold-plugged as unpluggable devices cpu1..cpu(vcpus-1). */
export function coldCpuArgs(config: VmConfig, accel: Accel): string[] {
  const args: string[] = [];
  for (let i = 1; i < config.vcpus; i++) {
    args.push(...device(cpuDriver(accel), { id: cpuDeviceId(i), ...cpuSlotProps(i) }));
  }
  return args;
}
