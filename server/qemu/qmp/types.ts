/**
 * The typed QMP command map: command name → { args; ret }. QmpClient.execute is generic over this
 * map, so a misspelt command or argument is a compile error instead of a CommandNotFound at run
 * time. Only the commands the control plane uses are listed; add one here (and a timeout in
 * timeouts.ts, which the compiler will ask for) before using it.
 *
 * Argument and return shapes follow QEMU 7.2's qapi/*.json and the live replies in shared/QMP.md.
 * Replies whose shape drives decisions are also validated at run time (schemas.ts); their types
 * are derived from those schemas so the two cannot drift apart.
 */
import type {
  BlockInfo,
  CpuInstanceProperties,
  HotpluggableCpu,
  MemoryDeviceInfo,
  QmpVersion,
  StatusInfo,
} from './schemas';

export type { BlockInfo, HotpluggableCpu, MemoryDeviceInfo, QmpVersion, StatusInfo } from './schemas';
export type { QmpGreeting, RunState, CpuInstanceProperties, BlockDeviceInfo } from './schemas';

/** An asynchronous QMP event, e.g. `{"event":"DEVICE_DELETED","data":{"device":"virtio1",...}}`. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** The `{}` most commands return. */
export type Empty = Record<string, never>;

/** Block node cache options (`cache.direct` = O_DIRECT, `cache.no-flush` = ignore guest flushes). */
export interface BlockdevCacheOptions {
  direct?: boolean;
  'no-flush'?: boolean;
}

/**
 * blockdev-add arguments. `file` is either the node-name of an existing node or a nested
 * definition (QMP.md §4.1: the nested child goes away with its parent on blockdev-del).
 */
export interface BlockdevOptions {
  driver: string;
  'node-name'?: string;
  'read-only'?: boolean;
  'auto-read-only'?: boolean;
  cache?: BlockdevCacheOptions;
  discard?: 'ignore' | 'unmap';
  filename?: string;
  file?: string | BlockdevOptions;
  [option: string]: unknown;
}

/** device_add: driver and id are mandatory for us (an id-less device can never be unplugged). */
export interface DeviceAddArgs {
  driver: string;
  id: string;
  bus?: string;
  [prop: string]: unknown;
}

export interface ObjectAddArgs {
  'qom-type': string;
  id: string;
  [prop: string]: unknown;
}

export interface NetdevAddArgs {
  type: 'user' | 'tap' | 'bridge' | 'socket' | 'vhost-user';
  id: string;
  [option: string]: unknown;
}

export interface CpuInfoFast {
  'cpu-index': number;
  'qom-path': string;
  'thread-id': number;
  props?: CpuInstanceProperties;
  target: string;
}

export interface ObjectPropertyInfo {
  name: string;
  /** e.g. `child<virtio-blk-pci>` for entries of /machine/peripheral. */
  type: string;
  description?: string;
  'default-value'?: unknown;
}

/** One node of query-named-block-nodes (only the fields we read are typed). */
export interface NamedBlockNode {
  'node-name': string;
  drv: string;
  file: string;
  ro: boolean;
  [field: string]: unknown;
}

export interface BlockStats {
  device?: string;
  qdev?: string;
  'node-name'?: string;
  stats: Record<string, unknown> & {
    rd_bytes: number;
    wr_bytes: number;
    rd_operations: number;
    wr_operations: number;
  };
  parent?: BlockStats;
}

export interface JobInfo {
  id: string;
  type: string;
  status: string;
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

export interface VncClientInfo {
  host: string;
  service: string;
  family: string;
  websocket: boolean;
  'x509_dname'?: string;
  'sasl_username'?: string;
}

export interface VncInfo {
  enabled: boolean;
  host?: string;
  family?: string;
  service?: string;
  auth?: string;
  clients?: VncClientInfo[];
}

type Cmd<A, R> = { args: A; ret: R };
/** Commands without arguments: the args slot must be left out (or undefined). */
type NoArgs<R = Empty> = Cmd<undefined, R>;

export interface QmpCommands {
  // -- protocol and identity
  qmp_capabilities: Cmd<{ enable?: 'oob'[] } | undefined, Empty>;
  'query-version': NoArgs<QmpVersion>;
  'human-monitor-command': Cmd<{ 'command-line': string; 'cpu-index'?: number }, string>;

  // -- lifecycle (QMP.md §6)
  'query-status': NoArgs<StatusInfo>;
  stop: NoArgs;
  cont: NoArgs;
  system_powerdown: NoArgs;
  system_reset: NoArgs;
  quit: NoArgs;

  // -- vCPUs (QMP.md §2)
  'query-hotpluggable-cpus': NoArgs<HotpluggableCpu[]>;
  'query-cpus-fast': NoArgs<CpuInfoFast[]>;

  // -- generic devices and objects
  device_add: Cmd<DeviceAddArgs, Empty>;
  device_del: Cmd<{ id: string }, Empty>;
  'object-add': Cmd<ObjectAddArgs, Empty>;
  'object-del': Cmd<{ id: string }, Empty>;
  'qom-get': Cmd<{ path: string; property: string }, unknown>;
  'qom-set': Cmd<{ path: string; property: string; value: unknown }, Empty>;
  'qom-list': Cmd<{ path: string }, ObjectPropertyInfo[]>;

  // -- memory (QMP.md §3)
  'query-memory-devices': NoArgs<MemoryDeviceInfo[]>;
  'query-memory-size-summary': NoArgs<{ 'base-memory': number; 'plugged-memory'?: number }>;
  balloon: Cmd<{ value: number }, Empty>;
  'query-balloon': NoArgs<{ actual: number }>;

  // -- block (QMP.md §4)
  'blockdev-add': Cmd<BlockdevOptions, Empty>;
  'blockdev-del': Cmd<{ 'node-name': string }, Empty>;
  'query-named-block-nodes': Cmd<{ flat?: boolean } | undefined, NamedBlockNode[]>;
  'query-block': NoArgs<BlockInfo[]>;
  'query-blockstats': Cmd<{ 'query-nodes'?: boolean } | undefined, BlockStats[]>;
  'blockdev-open-tray': Cmd<{ id: string; force?: boolean }, Empty>;
  'blockdev-close-tray': Cmd<{ id: string }, Empty>;
  'blockdev-remove-medium': Cmd<{ id: string }, Empty>;
  'blockdev-insert-medium': Cmd<{ id: string; 'node-name': string }, Empty>;

  // -- jobs (snapshot-save & co. report their outcome only here, QMP.md §6)
  'query-jobs': NoArgs<JobInfo[]>;
  'job-dismiss': Cmd<{ id: string }, Empty>;

  // -- network (QMP.md §5)
  netdev_add: Cmd<NetdevAddArgs, Empty>;
  netdev_del: Cmd<{ id: string }, Empty>;
  set_link: Cmd<{ name: string; up: boolean }, Empty>;

  // -- display (QMP.md §8)
  set_password: Cmd<{ protocol: 'vnc'; password: string; display?: string }, Empty>;
  /** time: "+N" seconds from now, "now", "never" or an absolute UNIX time. */
  expire_password: Cmd<{ protocol: 'vnc'; time: string; display?: string }, Empty>;
  screendump: Cmd<{ filename: string; device?: string; head?: number; format?: 'png' | 'ppm' }, Empty>;
  'query-vnc': NoArgs<VncInfo>;
}

export type QmpCommandName = keyof QmpCommands;
export type QmpArgs<K extends QmpCommandName> = QmpCommands[K]['args'];
export type QmpReturn<K extends QmpCommandName> = QmpCommands[K]['ret'];
