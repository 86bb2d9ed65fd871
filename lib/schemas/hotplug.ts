/**
 * Request and response shapes of the hotplug API (issue 5): change a running VM's vCPUs, memory,
 * balloon, disks, NICs and CD-ROM medium. Every endpoint also works on a shut-off VM, where it is a
 * plain config change.
 *
 * Every answer says what happened to the *running* VM:
 * - live:           applied to the running QEMU and stored in the config (next boot agrees);
 * - pending:        stored in the config, but the running VM keeps its current hardware until the
 *                   next boot; `reason` says why it could not be done live;
 * - unplug-pending: removal was requested and stored, but the guest has not released the device
 *                   yet; it is finished when it does (or after a server restart, by reconciling);
 * - saved:          the VM is not running: only the config changed.
 */
import { z } from 'zod';
import { deviceId, macAddress, volumeRef } from './common';
import { DiskBus, DiskCache, DiskFormat, MAX_VCPUS, MIN_MEMORY_MIB, NicModel, VmViewSchema } from './vm';

export const HotplugResult = z.enum(['live', 'pending', 'unplug-pending', 'saved']);
export type HotplugResult = z.infer<typeof HotplugResult>;

export const HotplugResponseSchema = z.object({
  result: HotplugResult,
  /** Why the change is not (yet) live: set for pending and unplug-pending. */
  reason: z.string().optional(),
  /** The id of the device added or removed, when the request was about one device. */
  device: z.string().optional(),
  vm: VmViewSchema,
});
export type HotplugResponse = z.infer<typeof HotplugResponseSchema>;

export const SetVcpusSchema = z.strictObject({ count: z.int().min(1).max(MAX_VCPUS) });
export const SetMemorySchema = z.strictObject({ sizeMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024) });
/** targetMiB null removes the target (the guest keeps all of its memory). */
export const SetBalloonSchema = z.strictObject({ targetMiB: z.int().min(MIN_MEMORY_MIB).max(1024 * 1024).nullable() });

/** POST /api/vms/{id}/disks: a new qcow2 of sizeMiB, or an existing pool volume. Default bus: virtio. */
export const AttachDiskSchema = z.union([
  z.strictObject({
    id: deviceId.optional(),
    sizeMiB: z.int().min(1).max(16 * 1024 * 1024),
    bus: DiskBus.optional(),
    cache: DiskCache.optional(),
  }),
  z.strictObject({
    id: deviceId.optional(),
    volume: volumeRef,
    /** Default: probed from the file (qcow2 magic, else raw). */
    format: DiskFormat.optional(),
    bus: DiskBus.optional(),
    cache: DiskCache.optional(),
    readonly: z.boolean().optional(),
  }),
]);
export type AttachDisk = z.infer<typeof AttachDiskSchema>;

export const AttachNicSchema = z.strictObject({
  id: deviceId.optional(),
  model: NicModel.optional(),
  /** Generated (52:54:00:xx:xx:xx, unique in this VM) when left out. */
  mac: macAddress.optional(),
  network: z.literal('user').optional(),
  linkUp: z.boolean().optional(),
});
export type AttachNic = z.infer<typeof AttachNicSchema>;

export const SetLinkSchema = z.strictObject({ up: z.boolean() });
export const SetCdromSchema = z.strictObject({ volume: volumeRef.nullable() });

/** GET /api/vms/{id}/stats: memory as QEMU and (when its balloon driver reports) the guest see it. */
export const VmStatsSchema = z.object({
  memory: z.object({ baseMiB: z.number(), pluggedMiB: z.number() }),
  balloon: z.object({ actualMiB: z.number(), targetMiB: z.int().nullable() }).nullable(),
  /** The guest's own numbers (virtio-balloon stats), null until the driver has reported once. */
  guest: z
    .object({
      lastUpdate: z.number(),
      totalMiB: z.number().nullable(),
      freeMiB: z.number().nullable(),
      availableMiB: z.number().nullable(),
      diskCachesMiB: z.number().nullable(),
      raw: z.record(z.string(), z.number()),
    })
    .nullable(),
});
export type VmStats = z.infer<typeof VmStatsSchema>;

/** GET /api/vms/{id}/devices: the live inventory, read from QMP now (not from our records). */
export const DeviceInventorySchema = z.object({
  /** Device ids under /machine/peripheral (qom-list). */
  peripheral: z.array(z.object({ id: z.string(), type: z.string() })),
  blockNodes: z.array(z.object({ nodeName: z.string(), driver: z.string(), file: z.string(), readOnly: z.boolean() })),
  block: z.array(
    z.object({
      qdev: z.string().nullable(),
      removable: z.boolean(),
      trayOpen: z.boolean().nullable(),
      inserted: z.object({ nodeName: z.string().nullable(), file: z.string() }).nullable(),
    }),
  ),
  cpus: z.array(z.object({ coreId: z.int().nullable(), type: z.string(), qomPath: z.string().nullable() })),
  memoryDevices: z.array(z.object({ id: z.string().nullable(), type: z.string(), sizeMiB: z.number() })),
  /** Our own bookkeeping next to it: root port → device id (null = free), unplugs in progress. */
  ports: z.record(z.string(), z.string().nullable()),
  unplugs: z.array(z.object({ id: z.string(), kind: z.string(), since: z.string() })),
});
export type DeviceInventory = z.infer<typeof DeviceInventorySchema>;
