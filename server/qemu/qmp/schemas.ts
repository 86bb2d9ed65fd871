/**
 * zod schemas for the QMP messages and replies the control plane *relies on*: the greeting, the
 * run state, the vCPU slots, the block devices and the memory devices. Decisions (is the VM
 * running? which CPU slot is free? which medium is in cd0?) are made from these, so a QEMU that
 * answers in an unexpected shape must fail loudly here rather than quietly mislead the callers.
 *
 * Objects are "loose": QEMU adds fields between versions and that must not break us; we only pin
 * down the fields we read. Shapes are from qapi/*.json of QEMU 7.2 and the live replies quoted in
 * shared/QMP.md.
 */
import { z } from 'zod';

// ---- protocol framing ------------------------------------------------------------------------

export const QmpVersionSchema = z.looseObject({
  qemu: z.looseObject({ major: z.int(), minor: z.int(), micro: z.int() }),
  package: z.string(),
});
export type QmpVersion = z.infer<typeof QmpVersionSchema>;

/** `{"QMP": {"version": {...}, "capabilities": ["oob"]}}`, sent by QEMU as soon as we connect. */
export const QmpGreetingSchema = z.looseObject({
  QMP: z.looseObject({
    version: QmpVersionSchema,
    capabilities: z.array(z.string()),
  }),
});
export type QmpGreeting = z.infer<typeof QmpGreetingSchema>['QMP'];

export const QmpEventSchema = z.looseObject({
  event: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.looseObject({ seconds: z.number(), microseconds: z.number() }),
});

export const QmpErrorSchema = z.looseObject({
  class: z.string(),
  desc: z.string(),
});

// ---- query-status ----------------------------------------------------------------------------

/** RunState from qapi/run-state.json (7.2). */
export const RunStateSchema = z.enum([
  'debug',
  'inmigrate',
  'internal-error',
  'io-error',
  'paused',
  'postmigrate',
  'prelaunch',
  'finish-migrate',
  'restore-vm',
  'running',
  'save-vm',
  'shutdown',
  'suspended',
  'watchdog',
  'guest-panicked',
  'colo',
]);
export type RunState = z.infer<typeof RunStateSchema>;

export const StatusInfoSchema = z.looseObject({
  running: z.boolean(),
  status: RunStateSchema,
  singlestep: z.boolean().optional(),
});
export type StatusInfo = z.infer<typeof StatusInfoSchema>;

// ---- query-hotpluggable-cpus -----------------------------------------------------------------

export const CpuInstancePropertiesSchema = z.looseObject({
  'node-id': z.int().optional(),
  'socket-id': z.int().optional(),
  'die-id': z.int().optional(),
  'cluster-id': z.int().optional(),
  'core-id': z.int().optional(),
  'thread-id': z.int().optional(),
});
export type CpuInstanceProperties = z.infer<typeof CpuInstancePropertiesSchema>;

/** A slot is occupied exactly when `qom-path` is present (QMP.md §2). */
export const HotpluggableCpuSchema = z.looseObject({
  type: z.string(),
  'vcpus-count': z.int(),
  props: CpuInstancePropertiesSchema,
  'qom-path': z.string().optional(),
});
export type HotpluggableCpu = z.infer<typeof HotpluggableCpuSchema>;
export const HotpluggableCpusSchema = z.array(HotpluggableCpuSchema);

// ---- query-block -----------------------------------------------------------------------------

export const BlockDeviceInfoSchema = z.looseObject({
  file: z.string(),
  'node-name': z.string().optional(),
  ro: z.boolean(),
  drv: z.string(),
  'backing_file_depth': z.int().optional(),
  encrypted: z.boolean().optional(),
});
export type BlockDeviceInfo = z.infer<typeof BlockDeviceInfoSchema>;

/**
 * One entry per block *device*. With -blockdev, `device` is "" (pitfall 20), so key on `qdev`
 * (`/machine/peripheral/<id>/...` or just the id) and on `inserted.node-name`.
 */
export const BlockInfoSchema = z.looseObject({
  device: z.string(),
  qdev: z.string().optional(),
  type: z.string().optional(),
  removable: z.boolean(),
  locked: z.boolean(),
  tray_open: z.boolean().optional(),
  inserted: BlockDeviceInfoSchema.optional(),
});
export type BlockInfo = z.infer<typeof BlockInfoSchema>;
export const BlockInfoListSchema = z.array(BlockInfoSchema);

// ---- query-memory-devices --------------------------------------------------------------------

export const PcDimmInfoSchema = z.looseObject({
  id: z.string().optional(),
  addr: z.number(),
  size: z.number(),
  slot: z.int(),
  node: z.int(),
  memdev: z.string(),
  hotplugged: z.boolean(),
  hotpluggable: z.boolean(),
});

export const VirtioMemInfoSchema = z.looseObject({
  id: z.string().optional(),
  memaddr: z.number(),
  'requested-size': z.number(),
  size: z.number(),
  'max-size': z.number(),
  'block-size': z.number(),
  node: z.int(),
  memdev: z.string(),
});

/** The kinds we never create are accepted with any payload so that their presence does not break a refresh. */
export const MemoryDeviceInfoSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('dimm'), data: PcDimmInfoSchema }),
  z.looseObject({ type: z.literal('nvdimm'), data: PcDimmInfoSchema }),
  z.looseObject({ type: z.literal('virtio-mem'), data: VirtioMemInfoSchema }),
  z.looseObject({ type: z.literal('virtio-pmem'), data: z.record(z.string(), z.unknown()) }),
  z.looseObject({ type: z.literal('sgx-epc'), data: z.record(z.string(), z.unknown()) }),
]);
export type MemoryDeviceInfo = z.infer<typeof MemoryDeviceInfoSchema>;
export const MemoryDeviceInfoListSchema = z.array(MemoryDeviceInfoSchema);

// ---- which replies are checked ---------------------------------------------------------------

/** Replies validated by QmpClient.execute before they reach the caller. */
export const REPLY_SCHEMAS: Partial<Record<string, z.ZodType>> = {
  'query-status': StatusInfoSchema,
  'query-hotpluggable-cpus': HotpluggableCpusSchema,
  'query-block': BlockInfoListSchema,
  'query-memory-devices': MemoryDeviceInfoListSchema,
};
