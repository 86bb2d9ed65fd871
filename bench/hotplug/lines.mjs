/**
 * The guest's own reports, and when they arrived, for bench/hotplug (both sides).
 *
 * The test guest prints `GUEST-READY` once and `GUEST-STATE cpus=… mem_kb=… disks=… nics=…` whenever
 * its hardware changed, polled every ~0.3 s. A hotplug figure is therefore mostly "how far away was
 * the guest's next poll", and the point in that poll cycle where a change is issued is best taken from
 * the arrival of the guest's previous line. So every line is stamped on arrival:
 *
 * - FileTail reads a serial log file every 1 ms: our server's `<dataDir>/logs/<vm>.serial.log`
 *   (written synchronously as the serial socket delivers), or libvirt's virtlogd log file. It follows
 *   a file that is removed and created again (libvirt-bench.py does that for every run).
 * - SocketTail stamps what QEMU's serial socket delivers (raw QMP phase: no server in between).
 *
 * Times are CLOCK_MONOTONIC milliseconds (`mono()`, = process.hrtime), the clock execwatch.py stamps
 * the peer's virsh processes with, so the two can be compared.
 *
 * `detect()` is the measuring end and works like libvirt-bench.py's wait_serial(): look, and if the
 * line is not there, sleep 5 ms and look again. Both sides thus see the guest's line with the same
 * 0-5 ms quantisation.
 */
import fs from 'node:fs';

export const mono = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until mono() ≥ t: a timer to ~2 ms before, then a short spin (timers fire up to ~1 ms late). */
export async function waitUntil(t) {
  const d = t - mono();
  if (d > 3) await sleep(d - 2);
  while (mono() < t) {
    /* spin: at most ~2 ms */
  }
}

const STATE_RE = /GUEST-STATE cpus=(\d+) mem_kb=(\d+) disks=([a-z0-9,]*) nics=([a-z0-9,]*)/;
const list = (x) => x.split(',').filter(Boolean);

export function parseState(text) {
  const m = STATE_RE.exec(text);
  return m ? { cpus: +m[1], memKb: +m[2], disks: list(m[3]), nics: list(m[4]) } : null;
}

/** The lines of one serial stream, each { t, ready, state, text }; GUEST-* lines only. */
export class LineLog {
  constructor() {
    this.lines = [];
    this.carry = '';
  }

  feed(t, chunk) {
    this.carry += chunk;
    let i;
    while ((i = this.carry.indexOf('\n')) >= 0) {
      const text = this.carry.slice(0, i).replace(/\r/g, '').trim();
      this.carry = this.carry.slice(i + 1);
      if (!text.includes('GUEST-')) continue;
      this.lines.push({ t, ready: text.includes('GUEST-READY'), state: parseState(text), text });
    }
  }

  /** Pulls in whatever arrived; FileTail overrides it. */
  poll() {}

  /** The last GUEST-STATE line that arrived, or null. */
  lastState() {
    for (let i = this.lines.length - 1; i >= 0; i--) if (this.lines[i].state) return this.lines[i];
    return null;
  }

  /** The first GUEST-STATE line from index `from` on that satisfies pred(state). */
  find(from, pred) {
    for (let i = from; i < this.lines.length; i++) if (this.lines[i].state && pred(this.lines[i].state)) return this.lines[i];
    return null;
  }

  /**
   * Measuring end: resolves { line, at } with `at` the moment we looked and saw it (5 ms cadence,
   * like libvirt-bench.py's wait_serial). Throws after timeoutMs.
   */
  async detect(from, pred, what, timeoutMs = 30_000) {
    const deadline = mono() + timeoutMs;
    for (;;) {
      this.poll();
      const line = this.find(from, pred);
      if (line) return { line, at: mono() };
      if (mono() > deadline) throw new Error(`the guest never reported ${what}; last: ${this.lastState()?.text ?? 'nothing'}`);
      await sleep(5);
    }
  }

  /** Resolves with the GUEST-READY line (the first GUEST-STATE arrives in the same write). */
  async ready(timeoutMs = 120_000) {
    const deadline = mono() + timeoutMs;
    for (;;) {
      this.poll();
      const line = this.lines.find((l) => l.ready);
      if (line && this.lastState()) return line;
      if (mono() > deadline) throw new Error(`no GUEST-READY within ${timeoutMs / 1000} s`);
      await sleep(2);
    }
  }
}

/** Tails a serial log file every `intervalMs` (default 1 ms), stamping each line when its bytes were read. */
export class FileTail extends LineLog {
  constructor(file, intervalMs = 1) {
    super();
    this.file = file;
    this.intervalMs = intervalMs;
    this.offset = 0;
    this.ino = null;
    this.timer = null;
    this.buf = Buffer.alloc(1 << 16);
  }

  start() {
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    return this;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.poll();
  }

  poll() {
    let fd;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return; // not there (yet, or between two runs)
    }
    try {
      const st = fs.fstatSync(fd);
      if (st.ino !== this.ino || st.size < this.offset) {
        this.ino = st.ino; // a new file: start over, keep what we had
        this.offset = 0;
        this.carry = '';
      }
      for (;;) {
        const n = fs.readSync(fd, this.buf, 0, this.buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.feed(mono(), this.buf.subarray(0, n).toString('utf8'));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Stamps what a connected serial socket delivers (QEMU's own serial socket, in the raw QMP phase). */
export class SocketTail extends LineLog {
  constructor(socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (c) => this.feed(mono(), c));
  }
}
