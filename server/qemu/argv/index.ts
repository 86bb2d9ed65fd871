/**
 * The pure config → argv builder (Proxmox's cfg2cmd, DESIGN.md habit 1). buildArgv is a function
 * of (config, ctx) only: no fs, no env, no clock, no randomness, so golden files
 * (test/fixtures/argv/<case>/expected.argv) pin down every argument, and a diff names the part
 * that changed.
 *
 * The result is hotplug-ready (maxcpus/slots/maxmem sized for the config's max values, spare PCIe
 * root ports, every device with a well-known id, see ids.ts/devices.ts) and locked down (no
 * defaults, no user config, seccomp sandbox, sockets only in the private run dir, never TCP).
 *
 * Every user-controlled string that reaches the argv comes from a VmConfigSchema-validated field;
 * buildArgv re-validates the config itself so a caller cannot skip that step. Volume paths go
 * into -blockdev JSON or stand alone as plain -kernel/-initrd arguments, never into a
 * comma-separated option.
 */
import { ApiError } from '../../../lib/errors';
import { type VmConfig, VmConfigSchema } from '../../../lib/schemas/vm';
import type { RunPaths } from '../paths';
import type { QmpArgs, QmpCommandName } from '../qmp/types';
import { bootIndexes, kernelArgs } from './boot';
import { qmpArgs, serialArgs } from './chardev';
import { baseDevicesArgs, rootPortsArgs } from './devices';
import { displayArgs } from './display';
import { cdromArgs, disksArgs } from './drive';
import { isReservedDeviceId } from './ids';
import { type Accel, coldCpuArgs, machineArgs } from './machine';
import { nicsArgs } from './nic';
import { kv } from './opts';
import { sandboxArgs } from './sandbox';

// The helpers the hotplug, console and reconcile code need, so the naming lives in one place.
export * from './ids';
export {
  PCIE_ROOT_PORTS,
  NIC_PORT_BASE,
  DISK_PORT_BASE,
  type Placement,
  rootBus,
  nicPlacement,
  virtioDiskPlacement,
  rootPortIds,
  hotplugRootPortIds,
  coldRootPorts,
} from './devices';
export {
  type Accel,
  cpuModel,
  cpuDriver,
  cpuSlotProps,
  memorySlots,
  MAX_MEMORY_SLOTS,
  guestPhysTopMiB,
  GUEST_PHYS_LIMIT_MIB,
  checkAddressSpace,
} from './machine';
export {
  CACHE_MODES,
  type CacheOptions,
  type DiskLocation,
  type IdeSlot,
  cdromSlot,
  sataSlots,
  scsiAddress,
  diskBlockdevs,
  diskDeviceProps,
  diskLocations,
  cdromBlockdev,
  cdromDeviceProps,
} from './drive';
export { netdevOptions, nicDeviceProps } from './nic';
export { hasVnc } from './display';
export { bootIndexes } from './boot';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

export interface ArgvContext {
  paths: RunPaths;
  accel: Accel;
  /** '<pool>/<file>' → absolute path, already confined to the pool by the caller. */
  resolveVolume: (ref: string) => string;
  /** Default 'qemu-system-x86_64'. */
  qemuBinary?: string;
  /** When set: -runas <user> (see sandbox.ts for what that costs). */
  runAs?: string | null;
  /**
   * Start with -S (status prelaunch): the caller runs startupCommands() and then `cont`, so the
   * guest never runs a single instruction with a link up that should be down. Default false.
   */
  startPaused?: boolean;
}

function validate(config: VmConfig): VmConfig {
  const parsed = VmConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new ApiError('VALIDATION_FAILED', 'Invalid VM configuration', { issues: parsed.error.issues });
  }
  const c = parsed.data;
  const devices = [...c.disks.map((d, i) => ({ id: d.id, path: ['disks', i, 'id'] })), ...c.nics.map((n, i) => ({ id: n.id, path: ['nics', i, 'id'] }))];
  for (const d of devices) {
    if (isReservedDeviceId(d.id)) {
      throw new ApiError('VALIDATION_FAILED', `Device id "${d.id}" is reserved for a built-in device; choose another`, { path: d.path });
    }
  }
  return c;
}

export function buildArgv(config: VmConfig, ctx: ArgvContext): string[] {
  const c = validate(config);
  const boot = bootIndexes(c);
  return [
    ctx.qemuBinary ?? DEFAULT_QEMU_BINARY,
    // debug-threads names the vCPU threads "CPU n/KVM", for per-vCPU stats from /proc.
    '-name',
    kv(null, { guest: c.name, 'debug-threads': true }),
    // Also what process.ts matches in /proc/<pid>/cmdline to recognise this VM's QEMU.
    '-uuid',
    c.id,
    ...machineArgs(c, ctx.accel),
    '-nodefaults',
    '-no-user-config',
    // A guest power-off leaves QEMU alive in status "shutdown", so we see SHUTDOWN and decide.
    '-no-shutdown',
    ...(ctx.startPaused ? ['-S'] : []),
    ...sandboxArgs(ctx.runAs),
    '-msg',
    kv(null, { timestamp: true }),
    // Not -daemonize: that would send later crash messages to /dev/null (QMP.md §1.1).
    '-pidfile',
    ctx.paths.pidfile,
    ...qmpArgs(ctx.paths),
    ...serialArgs(ctx.paths),
    ...displayArgs(c, ctx.paths),
    // Root ports before anything that names one as its bus.
    ...rootPortsArgs(c),
    ...coldCpuArgs(c, ctx.accel),
    ...baseDevicesArgs(c),
    ...disksArgs(c, ctx.resolveVolume, boot),
    ...cdromArgs(c, ctx.resolveVolume, boot),
    ...nicsArgs(c, boot),
    ...kernelArgs(c, ctx.resolveVolume),
  ];
}

/** One QMP command, typed by the command map. */
export type StartupCommand = { [K in QmpCommandName]: { command: K; args: QmpArgs<K> } }[QmpCommandName];

/**
 * What the argv cannot express and must be applied over QMP right after start (ideally while the
 * VM is still paused under -S): NIC links that are configured down, and the balloon target.
 */
export function startupCommands(config: VmConfig): StartupCommand[] {
  const cmds: StartupCommand[] = [];
  for (const nic of config.nics) {
    if (!nic.linkUp) cmds.push({ command: 'set_link', args: { name: nic.id, up: false } });
  }
  if (config.balloonMiB !== null && config.balloonMiB < config.memoryMiB) {
    cmds.push({ command: 'balloon', args: { value: config.balloonMiB * 1024 * 1024 } });
  }
  return cmds;
}
