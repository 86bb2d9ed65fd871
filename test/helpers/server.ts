/**
 * Test harness: runs the real server as a child process on a random port with a fresh data dir,
 * logs in, and offers small helpers for the API, /ws/events and the guest's serial output.
 * The test guest (kernel, initrd, ISO from scripts/build-test-guest.sh) is copied into the
 * default pool so VMs can use it as `default/guest.iso` etc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ensureServerBundle, SERVER_BUNDLE, SERVER_ENV } from '../../scripts/build-server.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GUEST_DIR = process.env.GUEST_DIR ?? path.join(ROOT, '.cache', 'guest');
export const ADMIN_PASSWORD = 'test-admin-password';

export interface StartOptions {
  dataDir?: string;
  ui?: boolean;
  env?: Record<string, string>;
  /** Copy the test guest into the pool (default true). */
  guest?: boolean;
}

export class TestServer {
  proc: ChildProcess | null = null;
  /** How the last server process ended (exit code or signal), once it has. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  port = 0;
  output = '';
  cookie = '';
  readonly dataDir: string;

  constructor(private readonly opts: StartOptions = {}) {
    this.dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-it-'));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get origin(): string {
    return this.url;
  }

  async start(): Promise<this> {
    if (this.opts.guest !== false) installGuest(this.dataDir);
    const env: NodeJS.ProcessEnv = {
      ...SERVER_ENV,
      ...process.env,
      PORT: String(this.port || 0),
      VMM_HOST: '127.0.0.1',
      VMM_DATA_DIR: this.dataDir,
      VMM_ADMIN_PASSWORD: ADMIN_PASSWORD,
      VMM_UI: this.opts.ui ? '1' : '0',
      VMM_SHUTDOWN_TIMEOUT: '30',
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      ...this.opts.env,
    };
    this.output = '';
    // The same bundle `npm start` runs (rebuilt here if a server source changed since).
    ensureServerBundle({ quiet: true });
    const proc = spawn(process.execPath, [SERVER_BUNDLE], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.lastExit = null;
    proc.once('exit', (code, signal) => (this.lastExit = { code, signal }));
    const started = new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        this.output += b.toString();
        const m = /listening on https?:\/\/[^:]+:(\d+)/.exec(this.output);
        if (m) {
          this.port = Number(m[1]);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.on('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${this.output}`)));
      setTimeout(() => reject(new Error(`server did not start in 60 s:\n${this.output}`)), 60_000).unref();
    });
    await started;
    await this.login();
    return this;
  }

  async login(username = 'admin', password = ADMIN_PASSWORD): Promise<void> {
    const res = await fetch(`${this.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: this.origin }, body: JSON.stringify({ username, password }) });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    this.cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  }

  /** JSON API call with the session; returns status and parsed body (text when not JSON). */
  async api<T = any>(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${p}`, {
      method,
      headers: { cookie: this.cookie, origin: this.origin, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T };
  }

  /** Like api() but fails the test on a non-2xx answer. */
  async ok<T = any>(method: string, p: string, body?: unknown): Promise<T> {
    const r = await this.api<T>(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async serial(vmId: string, tail = 65536): Promise<string> {
    const r = await this.api<string>('GET', `/api/vms/${vmId}/serial?tail=${tail}`);
    return typeof r.body === 'string' ? r.body : '';
  }

  /** Polls the guest's own serial output until `pattern` appears. */
  async waitSerial(vmId: string, pattern: RegExp | string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = await this.serial(vmId);
      if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
      await sleep(250);
    }
    throw new Error(`serial of ${vmId} never showed ${pattern}; last output:\n${text.slice(-2000)}`);
  }

  async waitState(vmId: string, state: string, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let vm: any;
    while (Date.now() < deadline) {
      vm = (await this.api('GET', `/api/vms/${vmId}`)).body;
      if (vm.state === state) return vm;
      await sleep(100);
    }
    throw new Error(`VM ${vmId} never reached ${state}; last: ${vm?.state} ${vm?.stateReason ?? ''}`);
  }

  events(): EventStream {
    return new EventStream(`ws://127.0.0.1:${this.port}/ws/events`, { cookie: this.cookie, origin: this.origin });
  }

  /** kill -9: the way a crash looks. Running VMs must survive it. */
  async kill9(): Promise<void> {
    await this.stop('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    this.proc = null;
  }

  /** Force-stops every VM (best effort) and the server, and removes the data dir. */
  async destroy(): Promise<void> {
    try {
      if (this.proc) {
        const { body } = await this.api('GET', '/api/vms');
        for (const vm of body?.vms ?? []) if (vm.runtime) await this.api('POST', `/api/vms/${vm.id}/poweroff`);
      }
    } catch {
      /* the server may be gone already */
    }
    await this.stop('SIGKILL');
    killQemusUnder(this.dataDir);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export class EventStream {
  readonly messages: any[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async waitFor(pred: (m: any) => boolean, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event in ${timeoutMs} ms; got ${this.messages.map((m) => `${m.type}:${m.vm?.state ?? ''}`).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export function installGuest(dataDir: string): void {
  const pool = path.join(dataDir, 'pools', 'default');
  fs.mkdirSync(pool, { recursive: true });
  for (const f of ['guest.iso', 'vmlinuz', 'initrd.img']) {
    const src = path.join(GUEST_DIR, f);
    if (!fs.existsSync(src)) throw new Error(`${src} is missing: run bash scripts/build-test-guest.sh`);
    const dst = path.join(pool, f);
    if (!fs.existsSync(dst)) fs.copyFileSync(src, dst);
  }
}

/** Safety net for tests: kill any QEMU whose pidfile lives under this data dir. */
export function killQemusUnder(dataDir: string): void {
  const runDir = path.join(dataDir, 'run');
  if (!fs.existsSync(runDir)) return;
  for (const id of fs.readdirSync(runDir)) {
    try {
      const pid = Number(fs.readFileSync(path.join(runDir, id, 'qemu.pid'), 'utf8'));
      if (pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id)) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A small VM for tests: 256 MiB, one vCPU with headroom, booting the test guest. */
export function testVm(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    memoryMiB: 256,
    maxMemoryMiB: 1024,
    vcpus: 1,
    maxVcpus: 4,
    kernel: { kernel: 'default/vmlinuz', initrd: 'default/initrd.img', cmdline: 'console=tty0 console=ttyS0 memhp_default_state=online' },
    ...extra,
  };
}
