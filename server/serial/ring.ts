/**
 * Storage for a VM's serial output: an in-memory ring of the last N bytes (what a freshly opened console
 * shows) and a size-capped append-only log file on disk (what survives a restart of this server).
 *
 * Both hold raw bytes: the guest may print anything, including split UTF-8 sequences and escape codes,
 * and xterm.js wants them verbatim. Turning bytes into text is the reader's business (see tailText).
 */
import fs from 'node:fs';

/** A fixed-capacity byte ring. Writes never fail; the oldest bytes fall off the front. */
export class RingBuffer {
  readonly capacity: number;
  private buf: Buffer | null = null; // allocated on first write: idle VMs cost nothing
  private start = 0; // index of the oldest byte
  private len = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError('ring capacity must be a positive integer');
    this.capacity = capacity;
  }

  get length(): number {
    return this.len;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const cap = this.capacity;
    const buf = (this.buf ??= Buffer.allocUnsafe(cap));
    if (chunk.length >= cap) {
      // Only the last `cap` bytes of this chunk can survive.
      buf.set(chunk.subarray(chunk.length - cap));
      this.start = 0;
      this.len = cap;
      return;
    }
    let end = (this.start + this.len) % cap;
    const first = Math.min(chunk.length, cap - end);
    buf.set(chunk.subarray(0, first), end);
    if (first < chunk.length) buf.set(chunk.subarray(first), 0);
    end = (end + chunk.length) % cap;
    const newLen = this.len + chunk.length;
    if (newLen > cap) {
      this.len = cap;
      this.start = end; // the ring is full: the oldest byte sits right after the newest
    } else {
      this.len = newLen;
    }
  }

  /** A copy of the last `n` bytes (all of them if n >= length). */
  tail(n: number = this.len): Buffer {
    const take = Math.max(0, Math.min(Math.floor(n), this.len));
    if (take === 0 || !this.buf) return Buffer.alloc(0);
    const cap = this.capacity;
    const from = (this.start + this.len - take) % cap;
    const out = Buffer.allocUnsafe(take);
    const first = Math.min(take, cap - from);
    this.buf.copy(out, 0, from, from + first);
    if (first < take) this.buf.copy(out, first, 0, take - first);
    return out;
  }

  clear(): void {
    this.start = 0;
    this.len = 0;
  }
}

/**
 * An append-only log capped at `capBytes`: when the next write would pass the cap, the file is renamed
 * to `<path>.1` (replacing the previous one) and a fresh file is started, so disk use stays below 2× cap.
 *
 * Writes are synchronous on purpose: serial output arrives in small chunks at human rates (a TCG guest
 * printing flat out manages a few MB/s), appends of a few KB to a file cost microseconds, and a sync
 * writer cannot reorder or lose chunks on shutdown. Errors are remembered, not thrown: a full disk must
 * not take the console down with it.
 */
export class CappedLog {
  readonly path: string;
  readonly capBytes: number;
  private fd: number | null = null;
  private size = 0;
  lastError: Error | null = null;

  constructor(path: string, capBytes: number) {
    if (!Number.isInteger(capBytes) || capBytes <= 0) throw new RangeError('log cap must be a positive integer');
    this.path = path;
    this.capBytes = capBytes;
  }

  write(chunk: Uint8Array): void {
    try {
      if (this.fd === null) this.open();
      if (this.size > 0 && this.size + chunk.length > this.capBytes) this.rotate();
      // A single chunk larger than the cap keeps only its tail, so the file never passes the cap.
      const data = chunk.length > this.capBytes ? chunk.subarray(chunk.length - this.capBytes) : chunk;
      let off = 0;
      while (off < data.length) off += fs.writeSync(this.fd!, data, off, data.length - off);
      this.size += data.length;
      this.lastError = null;
    } catch (e) {
      this.lastError = e as Error;
      this.closeFd();
    }
  }

  close(): void {
    this.closeFd();
  }

  /** The last `n` bytes across `<path>.1` and `<path>`, oldest first. Empty when neither exists. */
  static readTail(path: string, n: number): Buffer {
    const cur = readFileTail(path, n);
    if (cur.length >= n) return cur;
    const prev = readFileTail(`${path}.1`, n - cur.length);
    return prev.length ? Buffer.concat([prev, cur]) : cur;
  }

  private open(): void {
    this.fd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.closeFd();
    fs.renameSync(this.path, `${this.path}.1`);
    this.open();
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already gone: nothing to release
    }
    this.fd = null;
  }
}

function readFileTail(path: string, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const take = Math.min(size, n);
    const out = Buffer.allocUnsafe(take);
    let got = 0;
    while (got < take) {
      const r = fs.readSync(fd, out, got, take - got, size - take + got);
      if (r === 0) break;
      got += r;
    }
    return got === take ? out : out.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Bytes → text for people and scripts (GET /api/vms/{id}/serial): a cut through the middle of a
 * multi-byte UTF-8 sequence at the front would show as U+FFFD, so skip leading continuation bytes.
 */
export function bytesToText(buf: Buffer): string {
  let i = 0;
  while (i < buf.length && i < 3 && (buf[i] & 0xc0) === 0x80) i++;
  return buf.toString('utf8', i);
}
