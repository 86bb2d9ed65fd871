/**
 * Smoke test of the test guest itself (scripts/build-test-guest.sh → .cache/guest), with no app
 * code involved: boot it under TCG from -kernel/-initrd, read its serial port, talk raw QMP.
 *
 * Checks: GUEST-READY and a GUEST-STATE line with cpus=1 arrive on the serial port, the serial
 * root shell runs a command, and an ACPI power button press (QMP system_powerdown) makes the
 * guest power off, so QEMU reports SHUTDOWN (guest: true) and exits.
 *
 * Run: node --import tsx --test test/integration/guest-smoke.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUEST_DIR = process.env.GUEST_DIR ?? path.join(ROOT, '.cache', 'guest');
const QEMU = process.env.QEMU_SYSTEM_X86_64 ?? 'qemu-system-x86_64';
const DEFAULT_CMDLINE = 'console=tty0 console=ttyS0 memhp_default_state=online quiet';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn() is truthy, or throws describe() after timeoutMs. */
async function until<T>(fn: () => T | undefined | null | false, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(25);
  }
}

function connectUnix(sockPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path: sockPath });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

type QmpMessage = { [k: string]: unknown; event?: string; data?: any; return?: unknown; error?: any; id?: unknown };

/** Just enough QMP for this test: line-delimited JSON, greeting, commands matched by id, events kept. */
class MiniQmp {
  readonly messages: QmpMessage[] = [];
  private buf = '';
  private nextId = 0;
  closed = false;

  constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.messages.push(JSON.parse(line) as QmpMessage);
      }
    });
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => (this.closed = true));
  }

  async handshake(): Promise<void> {
    await until(() => this.messages.find((m) => 'QMP' in m), 10_000, () => 'no QMP greeting within 10 s');
    await this.execute('qmp_capabilities');
  }

  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    const id = `smoke-${++this.nextId}`;
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    const reply = await until(
      () => this.messages.find((m) => m.id === id),
      timeoutMs,
      () => `no reply to QMP ${command} within ${timeoutMs} ms`,
    );
    if (reply.error) throw new Error(`QMP ${command} failed: ${JSON.stringify(reply.error)}`);
    return reply.return;
  }

  events(name: string): QmpMessage[] {
    return this.messages.filter((m) => m.event === name);
  }

  close(): void {
    this.sock.destroy();
  }
}

test('test guest boots under TCG, reports its state, runs a serial shell and powers off on ACPI shutdown', { timeout: 180_000 }, async () => {
  const kernel = path.join(GUEST_DIR, 'vmlinuz');
  const initrd = path.join(GUEST_DIR, 'initrd.img');
  for (const f of [kernel, initrd]) {
    assert.ok(fs.existsSync(f), `test guest missing: ${f} does not exist. Build it first: bash scripts/build-test-guest.sh`);
  }
  const cmdlineFile = path.join(GUEST_DIR, 'cmdline');
  const cmdline = fs.existsSync(cmdlineFile) ? fs.readFileSync(cmdlineFile, 'utf8').trim() : DEFAULT_CMDLINE;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-smoke-'));
  const qmpSock = path.join(dir, 'q.sock');
  const serialSock = path.join(dir, 's.sock');
  let qemu: ChildProcess | undefined;
  let serial: net.Socket | undefined;
  let qmp: MiniQmp | undefined;
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  try {
    // TCG only: this host's /dev/kvm (kvm_pvm) hangs stock kernels. -S: nothing runs until our
    // serial reader is attached (serial output with no client connected is dropped).
    const args = [
      '-accel', 'tcg',
      '-machine', 'q35',
      '-m', '256',
      '-smp', '1,maxcpus=4',
      '-nodefaults',
      '-display', 'none',
      '-S',
      '-qmp', `unix:${qmpSock},server=on,wait=off`,
      '-serial', `unix:${serialSock},server=on,wait=off`,
      '-kernel', kernel,
      '-initrd', initrd,
      '-append', cmdline,
    ];
    qemu = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr!.setEncoding('utf8');
    qemu.stderr!.on('data', (d: string) => (stderr += d));
    qemu.on('exit', (code, signal) => (exit = { code, signal }));
    qemu.on('error', (err) => {
      stderr += `spawn error: ${err.message}\n`;
      exit = { code: -1, signal: null };
    });

    await until(
      () => exit !== undefined || (fs.existsSync(qmpSock) && fs.existsSync(serialSock)),
      15_000,
      () => `QEMU did not create its sockets within 15 s; stderr:\n${stderr}`,
    );
    assert.equal(exit, undefined, `QEMU exited at startup: ${JSON.stringify(exit)}; stderr:\n${stderr}`);

    serial = await connectUnix(serialSock);
    let out = '';
    serial.setEncoding('utf8');
    serial.on('data', (d: string) => (out += d));

    qmp = new MiniQmp(await connectUnix(qmpSock));
    await qmp.handshake();
    assert.equal((await qmp.execute('query-status') as { status: string }).status, 'prelaunch');
    const t0 = Date.now();
    await qmp.execute('cont');

    const serialTail = () => out.slice(-3000);
    await until(() => out.includes('GUEST-READY'), 90_000, () => `no GUEST-READY on serial within 90 s; serial:\n${serialTail()}\nstderr:\n${stderr}`);
    const bootMs = Date.now() - t0;
    const state = await until(
      () => /GUEST-STATE cpus=(\d+) mem_kb=(\d+) disks=(\S*) nics=(\S*)/.exec(out),
      10_000,
      () => `no GUEST-STATE line after GUEST-READY; serial:\n${serialTail()}`,
    );
    assert.equal(state[1], '1', `one vCPU online: ${state[0]}`);
    const memKb = Number(state[2]);
    assert.ok(memKb > 64 * 1024 && memKb <= 256 * 1024, `MemTotal plausible for -m 256: ${state[0]}`);
    assert.equal(state[3], '', `no disks attached: ${state[0]}`);
    assert.match(state[4], /^lo,/, `loopback listed first: ${state[0]}`);
    console.log(`guest ready ${bootMs} ms after cont; ${state[0]}`);

    // The serial line carries a root shell. The typed line is echoed as "hi-$((1+1))", so "hi-2"
    // can only come from the shell running it.
    const before = out.length;
    serial.write('echo hi-$((1+1))\n');
    await until(() => out.slice(before).includes('hi-2'), 15_000, () => `serial shell did not answer; serial:\n${serialTail()}`);

    // ACPI power button → guest acpid → GUEST-POWEROFF → poweroff -f → QEMU exits.
    const t1 = Date.now();
    await qmp.execute('system_powerdown');
    await until(() => exit, 20_000, () => `QEMU still running 20 s after system_powerdown; serial:\n${serialTail()}`);
    const offMs = Date.now() - t1;
    assert.deepEqual(exit, { code: 0, signal: null }, `QEMU exit; stderr:\n${stderr}`);
    assert.match(out, /GUEST-POWEROFF/, 'the guest acted on the power button itself');
    // The SHUTDOWN event is sent just before QEMU closes the monitor; give the reader a moment.
    await until(() => qmp!.events('SHUTDOWN').length > 0 || qmp!.closed, 2_000, () => 'QMP neither sent SHUTDOWN nor closed');
    const shutdown = qmp.events('SHUTDOWN')[0];
    if (shutdown) assert.equal(shutdown.data?.guest, true, `SHUTDOWN came from the guest: ${JSON.stringify(shutdown)}`);
    console.log(`powered off ${offMs} ms after system_powerdown; SHUTDOWN event: ${JSON.stringify(shutdown?.data ?? null)}`);
  } finally {
    qmp?.close();
    serial?.destroy();
    if (qemu && exit === undefined) {
      qemu.kill('SIGKILL');
      await until(() => exit, 5_000, () => 'QEMU did not die after SIGKILL').catch(() => undefined);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
