/**
 * Shared helpers for bench/scale and bench/api: statistics, /proc sampling (RSS and CPU of a pid),
 * a description of the machine, JSON output, Debian packages installed for a bench and purged after,
 * and a synchronous cleanup registry that runs on success, on failure and on SIGINT/SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The peers' scripts: ../shared/anchors relative to the repo root. */
export const ANCHORS = path.resolve(ROOT, '..', 'shared', 'anchors');
export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

export function log(...m) {
  console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
}

export function parseArgs(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const k = argv[i].slice(2);
    const v = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
    o[k] = v;
  }
  return o;
}

// ---- statistics ---------------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);
const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);

/** Summary of millisecond samples (nulls count as failures). */
export function summ(vals) {
  const v = vals.filter((x) => x != null).sort((a, b) => a - b);
  if (!v.length) return { n: 0, failed: vals.length };
  const med = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return {
    median_ms: r3(med),
    p50_ms: r3(percentile(v, 50)),
    p99_ms: r3(percentile(v, 99)),
    min_ms: r3(v[0]),
    max_ms: r3(v.at(-1)),
    mean_ms: r3(v.reduce((a, b) => a + b, 0) / v.length),
    n: v.length,
    failed: vals.length - v.length,
  };
}

export function ratio(a, b) {
  if (a == null || b == null || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

// ---- /proc --------------------------------------------------------------------------------------

/** RSS (KiB) and CPU time (clock ticks, user+system) of a pid, or null if it is gone. */
export function procSample(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { rssKiB: rss, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/**
 * Samples `pids` (name → pid, or name → array of pids summed) every second for `seconds`:
 * mean and max RSS in MiB and CPU time over the window as % of one core.
 */
export async function measureIdle(pids, seconds, intervalMs = 1000) {
  const list = (v) => (Array.isArray(v) ? v : [v]);
  const read = () => Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, list(v).map(procSample)]));
  const first = read();
  const t0 = now();
  const rss = Object.fromEntries(Object.keys(pids).map((k) => [k, []]));
  let last = first;
  while (now() - t0 < seconds * 1000) {
    await sleep(intervalMs);
    last = read();
    for (const [k, arr] of Object.entries(last)) rss[k].push(arr.reduce((s, x) => s + (x?.rssKiB ?? 0), 0));
  }
  const dt = (now() - t0) / 1000;
  const out = {};
  for (const k of Object.keys(pids)) {
    const ticks = last[k].reduce((s, x, i) => s + (x && first[k][i] ? x.ticks - first[k][i].ticks : 0), 0);
    const r = rss[k];
    out[k] = {
      processes: list(pids[k]).length,
      rss_mib_mean: r1(r.reduce((a, b) => a + b, 0) / r.length / 1024),
      rss_mib_max: r1(Math.max(...r) / 1024),
      cpu_pct_of_one_core: Math.round((ticks / CLK_TCK / dt) * 100 * 1000) / 1000,
      cpu_ticks: ticks,
      seconds: Math.round(dt * 10) / 10,
    };
  }
  return out;
}

// ---- the machine --------------------------------------------------------------------------------

export function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? null;
  const chromium = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? null;
  let debian = null;
  try {
    debian = fs.readFileSync('/etc/debian_version', 'utf8').trim();
  } catch {
    /* not Debian */
  }
  return {
    hostname: os.hostname(),
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? null,
    cores: os.cpus().length,
    mem_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    debian,
    node: process.version,
    qemu,
    chromium,
    kvm: fs.existsSync('/dev/kvm') ? 'present (the server decides; on these hosts it is kvm_pvm and TCG is used)' : 'absent',
  };
}

export function loadavg() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Processes on the machine using noticeable CPU that are not ours (a shared machine is noisy). */
export function busyProcesses(limit = 6) {
  const r = spawnSync('ps', ['-eo', 'pid,pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).slice(0, limit).map((l) => l.trim().replace(/\s+/g, ' '));
}

export function writeResult(rel, obj) {
  const file = path.resolve(ROOT, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 1) + '\n');
  log(`wrote ${path.relative(ROOT, file)}`);
}

// ---- commands -----------------------------------------------------------------------------------

export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  return { code: r.status ?? (r.error ? -1 : 1), stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Runs a command, printing what it runs; throws with its output on failure. */
export function mustSh(cmd, args, opts = {}) {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r;
}

// ---- Debian packages a bench needs (installed if missing, and exactly those purged again) --------

function installedPackages() {
  const r = sh('dpkg-query', ['-W', '-f', '${Package}\\n']);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

/** apt-get installs `pkgs` if a probe command is missing; returns the packages that install added. */
export function aptEnsure(probe, pkgs) {
  if (sh(probe[0], probe.slice(1)).code === 0 || sh('which', [probe[0]]).code === 0) return { installed: [], already: true };
  log(`bench: ${probe[0]} is missing; installing Debian package(s) ${pkgs.join(' ')} with apt-get (purged again at the end)`);
  const before = installedPackages();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env });
  if (r.code !== 0) {
    sh('apt-get', ['update'], { env });
    r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env });
  }
  if (r.code !== 0) return { installed: [], error: (r.stderr || r.stdout).trim().slice(-500) };
  const added = [...installedPackages()].filter((p) => !before.has(p));
  log(`bench: installed ${added.join(' ')}`);
  return { installed: added };
}

export function aptPurge(pkgs) {
  if (!pkgs.length) return;
  log(`bench: purging what we installed: ${pkgs.join(' ')}`);
  sh('apt-get', ['purge', '-y', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

// ---- cleanup ------------------------------------------------------------------------------------

/**
 * Synchronous cleanup steps, run last-registered-first exactly once: at the end of main (finally),
 * on an uncaught error, and on SIGINT/SIGTERM. Synchronous so that a signal cannot cut it short.
 */
export class Cleanup {
  steps = [];
  done = false;

  constructor() {
    const onSignal = (sig) => {
      log(`bench: ${sig}: cleaning up`);
      this.run();
      process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', () => this.run());
  }

  add(name, fn) {
    const step = { name, fn, active: true };
    this.steps.push(step);
    return () => (step.active = false); // cancel: the bench undid it itself
  }

  /** A point to undo back to later with runSince (e.g. stop the peers before measuring ours). */
  mark() {
    return this.steps.length;
  }

  /** Runs (last first) and forgets the steps registered since `mark`. */
  runSince(mark) {
    for (const s of this.steps.splice(mark).reverse()) {
      if (!s.active) continue;
      try {
        s.fn();
      } catch (e) {
        log(`cleanup "${s.name}" failed: ${e.message}`);
      }
    }
  }

  run() {
    if (this.done) return;
    this.done = true;
    for (const s of this.steps.reverse()) {
      if (!s.active) continue;
      try {
        s.fn();
      } catch (e) {
        log(`cleanup "${s.name}" failed: ${e.message}`);
      }
    }
  }
}
