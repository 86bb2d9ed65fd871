/**
 * The hotplug bookkeeping of one running QEMU, persisted in live.json next to `record.live`
 * (QMP.md §9: persist the live inventory, the root-port map and pending operations, so a
 * restarted server knows them). It is derived from the launch argv the first time a hotplug needs
 * it, so it also works for a QEMU started before this code existed.
 *
 * - ports: every PCIe root port the VM was started with → the device on it (null = free). Cold
 *   devices hold their port until they are unplugged; then the port is free for reuse.
 * - scsiIds: SCSI disk → scsi-id on scsi0.0.
 * - dimms / memorySlots: hot-added pc-dimms and the `-m slots=` budget.
 * - cdrom: the node currently inserted in cd0 and the last generation used for a node name.
 * - unplugs: device_del requested, guest has not released the device yet; what to free after.
 * - intent: a multi-step operation in flight (a write-ahead record). If the server dies in the
 *   middle, reconcile.ts looks at QEMU and either adopts the result or cleans up the leftovers.
 */
import { z } from 'zod';
import { DiskSchema, NicSchema } from '../../../lib/schemas/vm';
import { cdromMediaNode } from '../../qemu/argv';

export const UnplugSchema = z.object({
  kind: z.enum(['disk', 'nic', 'cpu', 'dimm']),
  id: z.string(),
  since: z.string(),
  /** blockdev-del these (top node first) once the device is gone. */
  nodes: z.array(z.string()).default([]),
  /** netdev_del this once the NIC is gone (never before: QMP.md pitfall 8). */
  netdev: z.string().nullable().default(null),
  /** object-del this (a memory backend) once the DIMM is gone. */
  object: z.string().nullable().default(null),
});
export type Unplug = z.infer<typeof UnplugSchema>;

export const IntentSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('attach-disk'), disk: DiskSchema, port: z.string().nullable(), scsiId: z.int().nullable() }),
  z.object({ op: z.literal('attach-nic'), nic: NicSchema, port: z.string().nullable() }),
  z.object({ op: z.literal('add-dimm'), id: z.string(), backend: z.string(), sizeMiB: z.int() }),
  z.object({ op: z.literal('vcpus'), count: z.int() }),
  z.object({ op: z.literal('cdrom'), volume: z.string().nullable(), node: z.string().nullable(), oldNode: z.string().nullable() }),
]);
export type Intent = z.infer<typeof IntentSchema>;

export const HotplugStateSchema = z.object({
  version: z.literal(1).default(1),
  machine: z.enum(['q35', 'pc']),
  ports: z.record(z.string(), z.string().nullable()).default({}),
  scsiIds: z.record(z.string(), z.int()).default({}),
  memorySlots: z.int().default(0),
  dimms: z.array(z.object({ id: z.string(), backend: z.string(), sizeMiB: z.int() })).default([]),
  cdromNode: z.string().nullable().default(null),
  cdromGeneration: z.int().default(0),
  unplugs: z.record(z.string(), UnplugSchema).default({}),
  /** Per-device reason why a change is pending (device id → reason). */
  reasons: z.record(z.string(), z.string()).default({}),
  intent: IntentSchema.nullable().default(null),
});
export type HotplugState = z.infer<typeof HotplugStateSchema>;

/** Parses a QemuOpts string (`driver,k=v,k=v`, commas in values doubled) into its head and props. */
export function parseOpts(s: string): { head: string; props: Record<string, string> } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ',') {
      if (s[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  const props: Record<string, string> = {};
  let head = '';
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0 && i === 0) head = p;
    else if (eq >= 0) props[p.slice(0, eq)] = p.slice(eq + 1);
  });
  return { head, props };
}

/** The values of every `flag` in argv (e.g. all `-device` strings). */
function argsOf(argv: string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === flag) out.push(argv[i + 1]);
  return out;
}

/** The state a QEMU has right after it was started with `argv` (nothing hotplugged yet). */
export function stateFromArgv(argv: string[], machine: 'q35' | 'pc', cdrom: string | null): HotplugState {
  const ports: Record<string, string | null> = {};
  const scsiIds: Record<string, number> = {};
  const devices = argsOf(argv, '-device').map(parseOpts);
  for (const d of devices) if (d.head === 'pcie-root-port' && d.props.id) ports[d.props.id] = null;
  for (const d of devices) {
    const { id, bus } = d.props;
    if (!id || !bus) continue;
    if (bus in ports) ports[bus] = id;
    if (d.head === 'scsi-hd' && d.props['scsi-id'] !== undefined) scsiIds[id] = Number(d.props['scsi-id']);
  }
  const m = argsOf(argv, '-m')[0];
  const slots = m ? Number(parseOpts(m).props.slots ?? 0) : 0;
  return HotplugStateSchema.parse({
    machine,
    ports,
    scsiIds,
    memorySlots: Number.isFinite(slots) ? slots : 0,
    cdromNode: cdrom ? cdromMediaNode(0) : null,
  });
}

/** Root port number of `rpN`, for ordering. */
export function portNumber(port: string): number {
  const m = /^rp(\d+)$/.exec(port);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}
