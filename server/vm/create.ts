/**
 * Turning a create request into a full VM config: OS-preset defaults (what virt-install picks per
 * OS family), device ids, generated MACs, and the hotplug headroom. Pure except for randomness,
 * which is injected, so it can be unit-tested.
 */
import crypto from 'node:crypto';
import type { z } from 'zod';
import type { CreateVmSchema, Disk, Nic, VmConfig } from '../../lib/schemas/vm';
import { DIMM_BLOCK_MIB } from '../../lib/schemas/vm';

type CreateVmInput = z.output<typeof CreateVmSchema>;

export interface PresetDefaults {
  machine: 'q35' | 'pc';
  diskBus: 'virtio' | 'scsi' | 'sata';
  nicModel: 'virtio' | 'e1000';
  video: 'std' | 'virtio' | 'none';
}

export const OS_PRESETS: Record<'linux' | 'windows' | 'other', PresetDefaults> = {
  // Linux has virtio drivers built in: the fast paths.
  linux: { machine: 'q35', diskBus: 'virtio', nicModel: 'virtio', video: 'std' },
  // Windows installs without extra drivers only on emulated SATA and e1000.
  windows: { machine: 'q35', diskBus: 'sata', nicModel: 'e1000', video: 'std' },
  // Unknown OSes get the most compatible hardware.
  other: { machine: 'pc', diskBus: 'sata', nicModel: 'e1000', video: 'std' },
};

export function randomMac(rand: (n: number) => Buffer = crypto.randomBytes): string {
  const b = rand(3);
  return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** Default hotplug headroom: room for a few more vCPUs and a few DIMMs, within the host. */
export function defaultHeadroom(vcpus: number, memoryMiB: number, hostCpus: number, hostMemMiB: number): { maxVcpus: number; maxMemoryMiB: number } {
  const maxVcpus = Math.max(vcpus, Math.min(Math.max(hostCpus, 4), 16));
  const wanted = Math.max(memoryMiB, memoryMiB * 4, 2048);
  const capped = Math.min(wanted, Math.max(memoryMiB, hostMemMiB));
  const maxMemoryMiB = memoryMiB + Math.floor((capped - memoryMiB) / DIMM_BLOCK_MIB) * DIMM_BLOCK_MIB;
  return { maxVcpus, maxMemoryMiB };
}

export interface PlannedDisk {
  disk: Disk;
  /** Set when the disk is a new qcow2 that must be created before the config is saved. */
  createMiB: number | null;
}

/**
 * The config for a create request, plus the disks to create. `volumeNameFor(i)` picks the pool
 * file name for new disk i (the caller makes it unique).
 */
export function planVm(
  req: CreateVmInput,
  opts: { id: string; now: string; hostCpus: number; hostMemMiB: number; volumeNameFor: (index: number) => string; mac?: () => string },
): { config: VmConfig; disks: PlannedDisk[] } {
  const preset = OS_PRESETS[req.osPreset ?? 'linux'];
  const headroom = defaultHeadroom(req.vcpus, req.memoryMiB, opts.hostCpus, opts.hostMemMiB);
  const disks: PlannedDisk[] = req.disks.map((d, i) => {
    const id = `disk${i}`;
    if ('sizeMiB' in d) {
      return {
        disk: { id, volume: opts.volumeNameFor(i), format: 'qcow2', bus: d.bus ?? preset.diskBus, cache: d.cache ?? 'writeback', readonly: false },
        createMiB: d.sizeMiB,
      };
    }
    const format = d.format ?? (d.volume.endsWith('.qcow2') ? 'qcow2' : 'raw');
    return { disk: { id, volume: d.volume, format, bus: d.bus ?? preset.diskBus, cache: d.cache ?? 'writeback', readonly: d.readonly ?? false }, createMiB: null };
  });
  const mac = opts.mac ?? (() => randomMac());
  const nicReqs = req.nics ?? [{}];
  const nics: Nic[] = nicReqs.map((n, i) => ({ id: `nic${i}`, model: n.model ?? preset.nicModel, mac: n.mac ?? mac(), network: 'user', linkUp: true }));
  const bootOrder = req.bootOrder ?? (req.cdrom ? ['cdrom', 'disk'] : ['disk', 'cdrom']);
  const config: VmConfig = {
    schemaVersion: 1,
    id: opts.id,
    name: req.name,
    createdAt: opts.now,
    machine: req.machine ?? preset.machine,
    osPreset: req.osPreset ?? 'linux',
    vcpus: req.vcpus,
    maxVcpus: req.maxVcpus ?? headroom.maxVcpus,
    memoryMiB: req.memoryMiB,
    maxMemoryMiB: req.maxMemoryMiB ?? headroom.maxMemoryMiB,
    disks: disks.map((d) => d.disk),
    cdrom: req.cdrom,
    bootOrder,
    nics,
    video: req.video ?? preset.video,
    kernel: req.kernel ?? null,
    balloonMiB: null,
  };
  return { config, disks };
}
