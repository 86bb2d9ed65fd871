/**
 * SerialHub: the server's single reader of every running VM's serial port.
 *
 * QEMU's `-chardev socket,server=on,wait=off` serves ONE client at a time and throws away output that no
 * client reads (QMP.md §10 pitfall 19). So browsers never talk to the socket themselves: the hub keeps one
 * connection per VM for as long as the VM runs, records everything into a 256 KiB ring (what a newly
 * opened console shows) and a capped log file (what survives a restart of this server), and fans live
 * output out to subscribers (the /ws/serial websockets). Input from any subscriber goes to the one socket.
 *
 * The connection is retried with a short backoff while attached: QEMU creates the socket a moment after
 * spawn, and a guest reboot inside the same QEMU keeps the socket, but a QEMU restart replaces it.
 */
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { CappedLog, RingBuffer, bytesToText } from './ring';

export interface SerialHubOptions {
  /** Directory for `<vmId>.serial.log` (+ `.1`). Created if missing. */
  logDir: string;
  /** Ring size per VM; default 256 KiB. */
  ringBytes?: number;
  /** Log file cap before rotation to `.1`; default 4 MiB. */
  logCapBytes?: number;
  /** First reconnect delay; doubles up to maxBackoffMs. Defaults 50 ms / 1000 ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export type SerialListener = (chunk: Buffer) => void;

/** Input queued towards QEMU beyond this is refused: a guest that stopped reading must not grow our heap. */
const MAX_PENDING_INPUT = 1 << 20;
/** How much recent output waitFor keeps to match text split across chunks. */
const WAIT_WINDOW = 64 * 1024;
const VM_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

interface Entry {
  vmId: string;
  socketPath: string | null;
  attached: boolean;
  sock: net.Socket | null;
  connected: boolean;
  timer: NodeJS.Timeout | null;
  backoff: number;
  ring: RingBuffer;
  log: CappedLog;
  listeners: Set<SerialListener>;
}

export class SerialHub {
  private readonly entries = new Map<string, Entry>();
  private readonly logDir: string;
  private readonly ringBytes: number;
  private readonly logCapBytes: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private closed = false;

  constructor(opts: SerialHubOptions) {
    this.logDir = opts.logDir;
    this.ringBytes = opts.ringBytes ?? 256 * 1024;
    this.logCapBytes = opts.logCapBytes ?? 4 * 1024 * 1024;
    this.minBackoff = opts.minBackoffMs ?? 50;
    this.maxBackoff = opts.maxBackoffMs ?? 1000;
    fs.mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
  }

  /** Start (or keep) reading the VM's serial socket. Calling it again with a new path switches to it. */
  attach(vmId: string, socketPath: string): void {
    if (this.closed) throw new Error('SerialHub is closed');
    const e = this.entry(vmId);
    if (e.attached && e.socketPath === socketPath) return;
    if (e.attached) this.disconnect(e);
    e.attached = true;
    e.socketPath = socketPath;
    e.backoff = this.minBackoff;
    this.connect(e);
  }

  /** Stop reading (VM stopped). History stays, so the console still shows how the VM went down. */
  detach(vmId: string): void {
    const e = this.entries.get(vmId);
    if (!e) return;
    e.attached = false;
    this.disconnect(e);
  }

  /** Drop everything about a VM (it was deleted), including its log files. */
  forget(vmId: string): void {
    const e = this.entries.get(vmId);
    if (e) {
      e.attached = false;
      this.disconnect(e);
      e.log.close();
      e.listeners.clear();
      this.entries.delete(vmId);
    }
    if (VM_ID_RE.test(vmId)) {
      for (const p of [this.logPath(vmId), `${this.logPath(vmId)}.1`]) fs.rmSync(p, { force: true });
    }
  }

  /** The last `bytes` of output. After a server restart the ring is seeded from the log file. */
  tail(vmId: string, bytes: number): Buffer {
    return this.entry(vmId).ring.tail(bytes);
  }

  /** tail() as text, for GET /api/vms/{id}/serial?tail=N. */
  tailText(vmId: string, bytes: number): string {
    return bytesToText(this.tail(vmId, bytes));
  }

  /** True while the hub holds a live connection to the VM's serial socket. */
  isConnected(vmId: string): boolean {
    return this.entries.get(vmId)?.connected ?? false;
  }

  /** Send input to the guest. False when there is no connection or too much input is already queued. */
  write(vmId: string, data: Buffer): boolean {
    const e = this.entries.get(vmId);
    if (!e || !e.connected || !e.sock) return false;
    if (e.sock.writableLength > MAX_PENDING_INPUT) return false;
    e.sock.write(data);
    return true;
  }

  /** Live output from now on. Returns the unsubscribe function. */
  subscribe(vmId: string, fn: SerialListener): () => void {
    const e = this.entry(vmId);
    e.listeners.add(fn);
    return () => {
      e.listeners.delete(fn);
    };
  }

  /**
   * Resolve once output arriving AFTER this call matches `text` (matches may span chunks; the window is
   * the last 64 KiB). Rejects after timeoutMs with the recent output in the message, for test failures.
   */
  waitFor(vmId: string, text: string | RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let window = '';
      const matches = (s: string) => (typeof text === 'string' ? s.includes(text) : new RegExp(text.source, text.flags.replace('g', '')).test(s));
      const unsubscribe = this.subscribe(vmId, (chunk) => {
        window += chunk.toString('latin1');
        if (window.length > WAIT_WINDOW) window = window.slice(-WAIT_WINDOW);
        if (matches(Buffer.from(window, 'latin1').toString('utf8'))) {
          clearTimeout(timer);
          unsubscribe();
          resolve();
        }
      });
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`serial output of ${vmId} did not match ${String(text)} within ${timeoutMs} ms; last output: ${JSON.stringify(window.slice(-400))}`));
      }, timeoutMs);
    });
  }

  /** Disconnect everything and close the log files. */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      e.attached = false;
      this.disconnect(e);
      e.log.close();
      e.listeners.clear();
    }
  }

  private logPath(vmId: string): string {
    return path.join(this.logDir, `${vmId}.serial.log`);
  }

  private entry(vmId: string): Entry {
    let e = this.entries.get(vmId);
    if (e) return e;
    // The id becomes a file name: refuse anything that could leave logDir.
    if (!VM_ID_RE.test(vmId)) throw new Error(`invalid VM id for the serial hub: ${JSON.stringify(vmId)}`);
    const ring = new RingBuffer(this.ringBytes);
    const logPath = this.logPath(vmId);
    // History from before a server restart: the ring starts with the end of the log file.
    const seed = CappedLog.readTail(logPath, this.ringBytes);
    if (seed.length) ring.push(seed);
    e = {
      vmId,
      socketPath: null,
      attached: false,
      sock: null,
      connected: false,
      timer: null,
      backoff: this.minBackoff,
      ring,
      log: new CappedLog(logPath, this.logCapBytes),
      listeners: new Set(),
    };
    this.entries.set(vmId, e);
    return e;
  }

  private connect(e: Entry): void {
    if (!e.attached || !e.socketPath || this.closed) return;
    const sock = net.connect(e.socketPath);
    e.sock = sock;
    sock.setNoDelay?.(true);
    sock.on('connect', () => {
      if (e.sock !== sock) return;
      e.connected = true;
      e.backoff = this.minBackoff;
    });
    sock.on('data', (chunk: Buffer) => {
      if (e.sock !== sock) return;
      this.record(e, chunk);
    });
    sock.on('error', () => {
      // 'close' follows; ENOENT/ECONNREFUSED while QEMU starts up are expected.
    });
    sock.on('close', () => {
      if (e.sock !== sock) return;
      e.sock = null;
      e.connected = false;
      this.scheduleReconnect(e);
    });
  }

  private scheduleReconnect(e: Entry): void {
    if (!e.attached || this.closed || e.timer) return;
    const delay = e.backoff;
    e.backoff = Math.min(e.backoff * 2, this.maxBackoff);
    e.timer = setTimeout(() => {
      e.timer = null;
      this.connect(e);
    }, delay);
    e.timer.unref();
  }

  private disconnect(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    const sock = e.sock;
    e.sock = null;
    e.connected = false;
    sock?.destroy();
  }

  private record(e: Entry, chunk: Buffer): void {
    e.ring.push(chunk);
    e.log.write(chunk);
    for (const fn of e.listeners) {
      try {
        fn(chunk);
      } catch {
        // one broken subscriber must not starve the others or the log
      }
    }
  }
}
