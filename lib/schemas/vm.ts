/**
 * The VM configuration: the one truth about a VM's hardware, shared by the pages, the REST API and
 * the store (one JSON file per VM, validated on load). The stored config is what the *next boot* gets;
 * what runs now is the config captured at start plus live changes, and the difference between the two
 * is what the UI shows as "pending".
 */
import { z } from 'zod';
import { deviceId, kernelCmdline, macAddress, uuid, vmName, volumeRef } from './common';

export const MAX_VCPUS = 64;
export const MIN_MEMORY_MIB = 64;
/** DIMMs are added in blocks of this size (Linux's x86 memory block size). */
export const DIMM_BLOCK_MIB = 128;

export const Machine = z.enum(['q35', 'pc']);
export const DiskBus = z.enum(['virtio', 'scsi', 'sata']);
export const DiskFormat = z.enum(['qcow2', 'raw']);
export const DiskCache = z.enum(['none', 'writeback', 'writethrough', 'directsync', 'unsafe']);
export const NicModel = z.enum(['virtio', 'e1000']);
export const VideoModel = z.enum(['std', 'virtio', 'none']);
export const BootDevice = z.enum(['disk', 'cdrom', 'network']);
export const OsPreset = z.enum(['linux', 'windows', 'other']);

export const DiskSchema = z.strictObject({
  id: deviceId,
  volume: volumeRef,
  format: DiskFormat.default('qcow2'),
  bus: DiskBus.default('virtio'),
  cache: DiskCache.default('writeback'),
  readonly: z.boolean().default(false),
});
export type Disk = z.infer<typeof DiskSchema>;

export const NicSchema = z.strictObject({
  id: deviceId,
  model: NicModel.default('virtio'),
  mac: macAddress,
  network: z.literal('user').default('user'),
  linkUp: z.boolean().default(true),
});
export type Nic = z.infer<typeof NicSchema>;

export const KernelBootSchema = z.strictObject({
  kernel: volumeRef,
  initrd: volumeRef.nullable().default(null),
  cmdline: kernelCmdline.default(''),
});
export type KernelBoot = z.infer<typeof KernelBootSchema>;

const hardwareShape = {
  machine: Machine.default('q35'),
  osPreset: OsPreset.default('linux'),
  vcpus: z.int().min(1).max(MAX_VCPUS),
  maxVcpus: z.int().min(1).max(MAX_VCPUS),
  memoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024),
  maxMemoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024),
  disks: z.array(DiskSchema).max(16).default([]),
  cdrom: volumeRef.nullable().default(null),
  bootOrder: z.array(BootDevice).min(1).max(3).default(['disk', 'cdrom']),
  nics: z.array(NicSchema).max(8).default([]),
  video: VideoModel.default('std'),
  kernel: KernelBootSchema.nullable().default(null),
  /** Balloon target in MiB; null means "no target set" (the guest keeps all of memoryMiB). */
  balloonMiB: z.int().min(MIN_MEMORY_MIB).nullable().default(null),
};

function checkHeadroom(c: { vcpus: number; maxVcpus: number; memoryMiB: number; maxMemoryMiB: number; bootOrder: string[]; disks: { id: string }[]; nics: { id: string; mac: string }[] }, ctx: z.RefinementCtx) {
  if (c.vcpus > c.maxVcpus) ctx.addIssue({ code: 'custom', path: ['vcpus'], message: `vCPUs (${c.vcpus}) cannot exceed max vCPUs (${c.maxVcpus})` });
  if (c.memoryMiB > c.maxMemoryMiB) ctx.addIssue({ code: 'custom', path: ['memoryMiB'], message: `Memory (${c.memoryMiB} MiB) cannot exceed max memory (${c.maxMemoryMiB} MiB)` });
  if (new Set(c.bootOrder).size !== c.bootOrder.length) ctx.addIssue({ code: 'custom', path: ['bootOrder'], message: 'Each boot device may appear once' });
  const ids = [...c.disks.map((d) => d.id), ...c.nics.map((n) => n.id)];
  if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', path: ['disks'], message: 'Device ids must be unique' });
  const macs = c.nics.map((n) => n.mac);
  if (new Set(macs).size !== macs.length) ctx.addIssue({ code: 'custom', path: ['nics'], message: 'MAC addresses must be unique' });
}

/** A stored VM config (schemaVersion lets later code migrate old files). */
export const VmConfigSchema = z
  .strictObject({
    schemaVersion: z.literal(1).default(1),
    id: uuid,
    name: vmName,
    createdAt: z.iso.datetime(),
    ...hardwareShape,
  })
  .superRefine(checkHeadroom);
export type VmConfig = z.infer<typeof VmConfigSchema>;

/** The hardware part of a config: everything PATCH may touch. */
export const HardwareSchema = z.strictObject(hardwareShape);
export type Hardware = z.infer<typeof HardwareSchema>;

// ---- API request bodies -------------------------------------------------------------------

/** A disk in POST /api/vms: an existing volume, or a new qcow2 of sizeMiB. */
export const NewDiskSchema = z.union([
  z.strictObject({
    volume: volumeRef,
    format: DiskFormat.optional(),
    bus: DiskBus.optional(),
    cache: DiskCache.optional(),
    readonly: z.boolean().optional(),
  }),
  z.strictObject({
    sizeMiB: z.int().min(1).max(16 * 1024 * 1024),
    bus: DiskBus.optional(),
    cache: DiskCache.optional(),
  }),
]);
export type NewDisk = z.infer<typeof NewDiskSchema>;

export const NewNicSchema = z.strictObject({
  model: NicModel.optional(),
  mac: macAddress.optional(),
  network: z.literal('user').optional(),
});

export const CreateVmSchema = z
  .strictObject({
    name: vmName,
    machine: Machine.optional(),
    osPreset: OsPreset.optional(),
    vcpus: z.int().min(1).max(MAX_VCPUS).default(1),
    maxVcpus: z.int().min(1).max(MAX_VCPUS).optional(),
    memoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024).default(512),
    maxMemoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024).optional(),
    disks: z.array(NewDiskSchema).max(16).default([]),
    cdrom: volumeRef.nullable().default(null),
    bootOrder: z.array(BootDevice).min(1).max(3).optional(),
    nics: z.array(NewNicSchema).max(8).optional(),
    video: VideoModel.optional(),
    kernel: KernelBootSchema.nullable().optional(),
    start: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.maxVcpus !== undefined && c.vcpus > c.maxVcpus) ctx.addIssue({ code: 'custom', path: ['vcpus'], message: `vCPUs (${c.vcpus}) cannot exceed max vCPUs (${c.maxVcpus})` });
    if (c.maxMemoryMiB !== undefined && c.memoryMiB > c.maxMemoryMiB) ctx.addIssue({ code: 'custom', path: ['memoryMiB'], message: `Memory (${c.memoryMiB} MiB) cannot exceed max memory (${c.maxMemoryMiB} MiB)` });
  });
export type CreateVm = z.input<typeof CreateVmSchema>;

/** PATCH /api/vms/{id}: any subset of the hardware and the name. Devices are replaced whole. */
export const PatchVmSchema = z
  .strictObject({
    name: vmName,
    machine: Machine,
    osPreset: OsPreset,
    vcpus: z.int().min(1).max(MAX_VCPUS),
    maxVcpus: z.int().min(1).max(MAX_VCPUS),
    memoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024),
    maxMemoryMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024),
    disks: z.array(DiskSchema).max(16),
    cdrom: volumeRef.nullable(),
    bootOrder: z.array(BootDevice).min(1).max(3),
    nics: z.array(NicSchema).max(8),
    video: VideoModel,
    kernel: KernelBootSchema.nullable(),
    balloonMiB: z.int().min(MIN_MEMORY_MIB).nullable(),
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'Nothing to change');
export type PatchVm = z.infer<typeof PatchVmSchema>;

// ---- API responses ------------------------------------------------------------------------

export const VmState = z.enum(['shutoff', 'starting', 'running', 'paused', 'shutting-down', 'stopping', 'crashed']);
export type VmState = z.infer<typeof VmState>;

export const PendingChangeSchema = z.object({
  field: z.string(),
  reason: z.string(),
});

/**
 * The live state of one device of a running VM (hotplug, issue 5):
 * - live: the running QEMU has it exactly as configured;
 * - pending: the stored config and the running VM disagree (added, removed or changed); it applies
 *   at next boot, and `reason` says why it was not done live;
 * - unplugging: removal was requested (device_del) and the guest has not released it yet.
 * Keys are QEMU device ids: disk and NIC ids, cd0, cpuN (vCPU slot N), dimmN.
 */
export const DeviceStateSchema = z.object({
  kind: z.enum(['disk', 'nic', 'cdrom', 'cpu', 'dimm']),
  state: z.enum(['live', 'pending', 'unplugging']),
  /** For pending: what the next boot does to this device. */
  action: z.enum(['add', 'remove', 'change']).optional(),
  reason: z.string().optional(),
});
export type DeviceState = z.infer<typeof DeviceStateSchema>;

/** What the running QEMU has right now (the stored config is what the next boot gets). */
export const LiveSummarySchema = z.object({
  vcpus: z.int(),
  maxVcpus: z.int(),
  memoryMiB: z.int(),
  maxMemoryMiB: z.int(),
  balloonMiB: z.int().nullable(),
  cdrom: z.string().nullable(),
  /** Free hotplug slots: PCIe root ports (q35; null on pc, where pci.0 takes devices directly) and DIMM slots. */
  freePorts: z.int().nullable(),
  freeDimmSlots: z.int(),
});

export const VmViewSchema = z.object({
  ...hardwareShape,
  id: uuid,
  name: vmName,
  createdAt: z.string(),
  state: VmState,
  /** Why the VM is in this state, when that is worth saying (a crash's log tail, an ignored ACPI shutdown). */
  stateReason: z.string().nullable(),
  /** True when an ACPI shutdown was requested and the guest has not acted on it: offer a force power-off. */
  shutdownIgnored: z.boolean(),
  /** Changes stored in the config that the running VM does not have yet: they apply at next boot. */
  pending: z.array(PendingChangeSchema),
  runtime: z
    .object({
      pid: z.int(),
      startedAt: z.string(),
      accel: z.enum(['kvm', 'tcg']),
      argv: z.array(z.string()),
      cpuPercent: z.number().nullable(),
    })
    .nullable(),
  /** Per-device live/pending/unplugging state; present while the VM runs. */
  devices: z.record(z.string(), DeviceStateSchema).optional(),
  /** The running hardware (vCPUs, memory, headroom); present while the VM runs. */
  live: LiveSummarySchema.optional(),
});
export type VmView = z.infer<typeof VmViewSchema>;

export const LifecycleAction = z.enum(['start', 'shutdown', 'poweroff', 'reboot', 'reset', 'pause', 'resume']);
export type LifecycleAction = z.infer<typeof LifecycleAction>;
