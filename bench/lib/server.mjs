/**
 * Our server for the benches: the real server (dist/server.mjs, as `npm start` runs it) as a child process on a
 * fresh data dir, like test/helpers/server.ts (TestServer), but every log line is timestamped as it
 * arrives, so a bench can time spawn → "reattached N running VM(s) in X ms" → "listening".
 * Killing it (kill -9) leaves its QEMUs running, as a crash would; `killAll()` is the synchronous
 * safety net that SIGKILLs the server and every QEMU whose pidfile lives under the data dir.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ROOT, now } from './common.mjs';
import { ensureServerBundle, SERVER_BUNDLE, SERVER_ENV } from '../../scripts/build-server.mjs';

export const ADMIN_PASSWORD = 'bench-admin-password';

export class BenchServer {
  proc = null;
  port = 0;
  cookie = '';
  lines = []; // { t, line }

  constructor({ dataDir, ui = true, env = {}, nodeArgs = [] } = {}) {
    this.dataDir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-bench-'));
    this.ui = ui;
    this.env = env;
    this.nodeArgs = nodeArgs;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.proc?.pid ?? null;
  }

  /** Spawns the server; resolves once it listens, with the timings of that start. */
  async start({ port = this.port } = {}) {
    const env = {
      ...SERVER_ENV,
      ...process.env,
      PORT: String(port || 0),
      VMM_HOST: '127.0.0.1',
      VMM_DATA_DIR: this.dataDir,
      VMM_ADMIN_PASSWORD: ADMIN_PASSWORD,
      VMM_UI: this.ui ? '1' : '0',
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      ...this.env,
    };
    this.lines = [];
    const tSpawn = now();
    ensureServerBundle({ quiet: true });
    const proc = spawn(process.execPath, [...this.nodeArgs, SERVER_BUNDLE], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let partial = '';
    const onData = (b) => {
      const t = now();
      partial += b.toString();
      const parts = partial.split('\n');
      partial = parts.pop();
      for (const line of parts) this.lines.push({ t, line });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    await new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        const hit = this.lines.find((l) => /listening on https?:\/\/[^:]+:(\d+)/.test(l.line));
        if (hit) {
          clearInterval(timer);
          this.port = Number(/listening on https?:\/\/[^:]+:(\d+)/.exec(hit.line)[1]);
          resolve();
        }
      }, 2);
      proc.once('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`server exited (${code}) before listening:\n${this.output()}`));
      });
      setTimeout(() => {
        clearInterval(timer);
        reject(new Error(`server did not listen within 120 s:\n${this.output()}`));
      }, 120_000).unref();
    });
    const at = (re) => this.lines.find((l) => re.test(l.line));
    const re = at(/reattached (\d+) running VM\(s\) in (\d+) ms/);
    const m = re && /reattached (\d+) running VM\(s\) in (\d+) ms; (\d+) found dead/.exec(re.line);
    return {
      tSpawn,
      spawn_to_reattach_logged_ms: re ? re.t - tSpawn : null,
      spawn_to_listening_ms: at(/listening on/).t - tSpawn,
      reattached: m ? Number(m[1]) : null,
      reattach_ms_logged: m ? Number(m[2]) : null,
      found_dead: m ? Number(m[3]) : null,
      reattach_line: re?.line ?? null,
    };
  }

  output() {
    return this.lines.map((l) => l.line).join('\n');
  }

  async login(username = 'admin', password = ADMIN_PASSWORD) {
    const res = await fetch(`${this.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: this.url },
      body: JSON.stringify({ username, password }),
    });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    this.cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  }

  async api(method, p, body) {
    const res = await fetch(`${this.url}${p}`, {
      method,
      headers: { cookie: this.cookie, origin: this.url, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed };
  }

  async ok(method, p, body) {
    const r = await this.api(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }

  /** A /ws/events client with the session cookie and our Origin. */
  events() {
    return new WebSocket(`ws://127.0.0.1:${this.port}/ws/events`, { headers: { cookie: this.cookie, origin: this.url } });
  }

  async kill9() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  /** Synchronous: SIGKILL the server and every QEMU it started, remove the data dir. */
  killAll({ removeDataDir = true } = {}) {
    try {
      if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
    killQemusUnder(this.dataDir);
    if (removeDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** SIGKILLs every QEMU whose pidfile lives under dataDir/run and whose cmdline carries that VM's uuid. */
export function killQemusUnder(dataDir) {
  const runDir = path.join(dataDir, 'run');
  if (!fs.existsSync(runDir)) return 0;
  let n = 0;
  for (const id of fs.readdirSync(runDir)) {
    try {
      const pid = Number(fs.readFileSync(path.join(runDir, id, 'qemu.pid'), 'utf8'));
      if (pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id)) {
        process.kill(pid, 'SIGKILL');
        n++;
      }
    } catch {
      /* not running */
    }
  }
  return n;
}

/** Pids of the QEMUs under dataDir (for CPU/RSS sums). */
export function qemuPidsUnder(dataDir) {
  const runDir = path.join(dataDir, 'run');
  const out = [];
  if (!fs.existsSync(runDir)) return out;
  for (const id of fs.readdirSync(runDir)) {
    try {
      const pid = Number(fs.readFileSync(path.join(runDir, id, 'qemu.pid'), 'utf8'));
      if (pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id)) out.push(pid);
    } catch {
      /* not running */
    }
  }
  return out;
}
