/**
 * QMP client: one long-lived connection per VM (QEMU greets only one client at a time, QMP.md
 * pitfall 9, so the whole server shares this connection instead of dialling per request).
 *
 * Guarantees the rest of the control plane builds on:
 * - Commands run one at a time, in submit order (not pipelined). A hotplug sequence
 *   (blockdev-add, blockdev-add, device_add) therefore never interleaves with another caller's
 *   commands, and a reply can only belong to the command in flight. Replies are still matched by
 *   a counter id, which is what lets a timed-out command free the queue: its late answer carries
 *   an old id and is dropped.
 * - Every command has a timeout (timeouts.ts explains each default).
 * - QMP `error` replies reject with ApiError('QEMU_FAILED', desc, {class, command}); timeouts with
 *   QMP_TIMEOUT; a lost connection rejects everything pending or queued with QMP_DISCONNECTED.
 * - A lost socket surfaces only through the 'close' event (emitted exactly once, with the socket
 *   error if there was one) and through rejected promises the callers hold. The client never
 *   emits 'error' (which would throw without a listener) and never lets a listener's exception
 *   escape into the socket's data handler.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { ApiError, type ErrorCode } from '../../../lib/errors';
import { QmpErrorSchema, QmpGreetingSchema, REPLY_SCHEMAS } from './schemas';
import { COMMAND_TIMEOUTS } from './timeouts';
import type { QmpCommandName, QmpCommands, QmpEvent, QmpGreeting } from './types';

export {
  StatusInfoSchema,
  HotpluggableCpuSchema,
  HotpluggableCpusSchema,
  BlockInfoSchema,
  BlockInfoListSchema,
  MemoryDeviceInfoSchema,
  MemoryDeviceInfoListSchema,
  QmpGreetingSchema,
  RunStateSchema,
} from './schemas';
export { COMMAND_TIMEOUTS } from './timeouts';

export interface QmpConnectOptions {
  /** How long to wait for QEMU's greeting; default 5000. No greeting usually means another client holds the monitor. */
  greetingTimeoutMs?: number;
  /** If set, replaces the per-command defaults of COMMAND_TIMEOUTS (tests, unusually slow hosts). */
  defaultTimeoutMs?: number;
}

export interface QmpExecuteOptions {
  /** Overrides the command's default timeout, counted from the moment the command is sent. */
  timeoutMs?: number;
}

/** Events emitted by QmpClient. */
export type QmpClientEvents = {
  event: [QmpEvent];
  close: [Error | undefined];
};

/** A QMP reply line can be large (query-qmp-schema is ~200 KB); anything past this is a broken peer. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

interface Job {
  id: number;
  command: QmpCommandName;
  args: unknown;
  timeoutMs: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class QmpClient extends EventEmitter<QmpClientEvents> {
  readonly socketPath: string;
  /** QEMU's greeting (version and capabilities); set once connect() has resolved. */
  greeting!: QmpGreeting;

  private readonly socket: net.Socket;
  private readonly defaultTimeoutMs: number | undefined;
  private buffer = '';
  private nextId = 1;
  private queue: Job[] = [];
  private inflight: Job | null = null;
  private negotiated = false;
  private closed = false;
  private socketError: Error | undefined;
  /** Set by connect() while it waits for the greeting line. */
  private onGreeting: ((g: QmpGreeting | Error) => void) | null = null;

  private constructor(socketPath: string, socket: net.Socket, opts: QmpConnectOptions) {
    super();
    this.socketPath = socketPath;
    this.socket = socket;
    this.defaultTimeoutMs = opts.defaultTimeoutMs;
    socket.setEncoding('utf8'); // a StringDecoder keeps multi-byte characters split across chunks intact
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('close', () => this.finish());
  }

  /**
   * Connects, waits for the greeting and negotiates capabilities. Rejects with QMP_TIMEOUT if no
   * greeting arrives (another client is connected, or this is not a QMP socket) and with
   * QMP_DISCONNECTED if the socket cannot be opened or closes during the handshake.
   */
  static connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const greetingTimeoutMs = opts.greetingTimeoutMs ?? 5_000;
    return new Promise<QmpClient>((resolve, reject) => {
      const client = new QmpClient(socketPath, net.createConnection(socketPath), opts);
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new ApiError('QMP_TIMEOUT', `No QMP greeting on ${socketPath} within ${greetingTimeoutMs} ms (is another client connected?)`, {
              path: socketPath,
            }),
          ),
        greetingTimeoutMs,
      );
      const onEarlyClose = (err: Error | undefined) =>
        fail(
          new ApiError('QMP_DISCONNECTED', `QMP connection to ${socketPath} failed: ${err?.message ?? 'closed during the handshake'}`, {
            path: socketPath,
            cause: (err as NodeJS.ErrnoException | undefined)?.code,
          }),
        );
      client.once('close', onEarlyClose);
      client.onGreeting = (g) => {
        client.onGreeting = null;
        if (g instanceof Error) return fail(g);
        clearTimeout(timer);
        client.greeting = g;
        client.execute('qmp_capabilities').then(
          () => {
            if (settled) return;
            settled = true;
            client.off('close', onEarlyClose);
            client.negotiated = true;
            resolve(client);
          },
          (err: Error) => fail(err),
        );
      };
    });
  }

  /** True once capabilities are negotiated and until the socket closes. */
  get connected(): boolean {
    return this.negotiated && !this.closed;
  }

  /**
   * Queues a command; it is sent once every earlier command has been answered or has timed out.
   */
  execute<K extends QmpCommandName>(
    command: K,
    args?: QmpCommands[K]['args'],
    opts: QmpExecuteOptions = {},
  ): Promise<QmpCommands[K]['ret']> {
    if (this.closed) return Promise.reject(this.disconnected(command));
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs ?? COMMAND_TIMEOUTS[command].ms;
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, command, args, timeoutMs, resolve: resolve as (v: unknown) => void, reject, timer: null });
      this.pump();
    });
  }

  /**
   * Resolves with the first event for which `pred` returns true. Register it *before* sending the
   * command that causes the event (e.g. device_del), or the event may already have passed.
   * Rejects with `code` (default UNPLUG_TIMEOUT) after timeoutMs, with QMP_DISCONNECTED if the
   * connection closes first, and with pred's own exception if it throws.
   */
  waitForEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number, code: ErrorCode = 'UNPLUG_TIMEOUT'): Promise<QmpEvent> {
    if (this.closed) return Promise.reject(this.disconnected());
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent) => {
        let hit: boolean;
        try {
          hit = pred(e);
        } catch (err) {
          cleanup();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (hit) {
          cleanup();
          resolve(e);
        }
      };
      const onClose = () => {
        cleanup();
        reject(this.disconnected());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new ApiError(code, `No matching QMP event within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Closes the connection; resolves once 'close' has been emitted. Never rejects. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  // ---- internals ------------------------------------------------------------------------------

  private pump(): void {
    if (this.inflight || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.inflight = job;
    const msg: Json = { execute: job.command, id: job.id };
    if (job.args !== undefined) msg.arguments = job.args;
    job.timer = setTimeout(() => this.onTimeout(job), job.timeoutMs);
    this.socket.write(JSON.stringify(msg) + '\n');
  }

  private onTimeout(job: Job): void {
    if (this.inflight !== job) return;
    this.inflight = null;
    job.reject(
      new ApiError('QMP_TIMEOUT', `QEMU did not answer ${job.command} within ${job.timeoutMs} ms`, {
        command: job.command,
        timeoutMs: job.timeoutMs,
      }),
    );
    this.pump();
  }

  private onData(chunk: string): void {
    if (this.closed) return;
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim(); // QEMU ends lines with \r\n
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onLine(line);
      if (this.closed) return;
    }
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.socket.destroy(new Error(`QMP line longer than ${MAX_LINE_BYTES} bytes`));
    }
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not JSON: nothing QEMU would send on purpose; skipping it keeps the stream usable
    }
    if (!isObject(msg)) return;
    if ('QMP' in msg) this.handleGreeting(msg);
    else if (typeof msg.event === 'string') this.handleEvent(msg);
    else if ('return' in msg || 'error' in msg) this.handleReply(msg);
  }

  private handleGreeting(msg: Json): void {
    if (!this.onGreeting) return;
    const g = QmpGreetingSchema.safeParse(msg);
    this.onGreeting(
      g.success ? g.data.QMP : new ApiError('QEMU_FAILED', `Unexpected QMP greeting on ${this.socketPath}`, { issues: g.error.issues }),
    );
  }

  private handleEvent(msg: Json): void {
    const ts = isObject(msg.timestamp) ? msg.timestamp : {};
    const ev: QmpEvent = {
      event: msg.event as string,
      timestamp: { seconds: Number(ts.seconds ?? 0), microseconds: Number(ts.microseconds ?? 0) },
    };
    if (isObject(msg.data)) ev.data = msg.data;
    try {
      this.emit('event', ev);
    } catch (err) {
      // A listener's bug must not kill the connection (this runs inside the socket's data handler).
      process.emitWarning(`QMP event listener threw on ${ev.event}: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private handleReply(msg: Json): void {
    const job = this.inflight;
    if (!job || msg.id !== job.id) return; // the late answer to a command that already timed out
    if (job.timer) clearTimeout(job.timer);
    this.inflight = null;
    if ('error' in msg) {
      const e = QmpErrorSchema.safeParse(msg.error);
      job.reject(
        new ApiError('QEMU_FAILED', e.success ? e.data.desc : `QEMU rejected ${job.command}`, {
          class: e.success ? e.data.class : 'unknown',
          command: job.command,
        }),
      );
    } else {
      const schema = REPLY_SCHEMAS[job.command];
      const parsed = schema ? schema.safeParse(msg.return) : { success: true as const, data: msg.return };
      if (parsed.success) job.resolve(parsed.data);
      else
        job.reject(
          new ApiError('QEMU_FAILED', `Unexpected reply to ${job.command}`, { command: job.command, issues: parsed.error.issues }),
        );
    }
    this.pump();
  }

  private disconnected(command?: string): ApiError {
    const why = this.socketError?.message ?? 'connection closed';
    return new ApiError('QMP_DISCONNECTED', `QMP connection to ${this.socketPath} lost: ${why}`, command ? { command } : undefined);
  }

  /** Runs once, on the socket's 'close' (which Node emits after 'error' too). */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const inflight = this.inflight;
    const queued = this.queue;
    this.inflight = null;
    this.queue = [];
    if (inflight) {
      if (inflight.timer) clearTimeout(inflight.timer);
      // QEMU may exit before its answer to quit is read: the socket closing is the answer we wanted.
      if (inflight.command === 'quit') inflight.resolve({});
      else inflight.reject(this.disconnected(inflight.command));
    }
    for (const job of queued) job.reject(this.disconnected(job.command));
    try {
      this.emit('close', this.socketError);
    } catch (err) {
      process.emitWarning(`QMP close listener threw: ${(err as Error)?.stack ?? String(err)}`);
    }
  }
}
