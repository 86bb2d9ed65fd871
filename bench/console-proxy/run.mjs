#!/usr/bin/env node
/**
 * Console proxy benchmark: the same byte stream, side by side in one run, through
 *   (a) our proxy — server/vnc/proxy.ts handleVncUpgrade, with a real one-time ticket, in its own process;
 *   (b) Debian's websockify (forks one Python process per connection), `--unix-target` the same socket;
 *   (c) direct loopback: the same client reading the same source with no proxy, over the unix socket
 *       (what the proxy itself reads) and over TCP (what /work/shared/anchors/proxy-anchor.mjs called raw).
 *
 * The source is a fake VNC server on a unix socket in this process, like the anchor's: after the
 * client's first byte it either streams MiB bytes in 64 KiB writes ('S') or echoes every message ('E').
 * Clients live in this process too (the anchor's shape), and each proxy gets the other core.
 *
 * Measured: throughput (median of --rounds, interleaved so drift hits every path alike), small-message
 * round trip p50/p99 (a 10-byte "pointer event" and its echo, sequentially), and proxy CPU seconds per
 * GiB moved: /proc/<pid>/stat utime+stime+cutime+cstime for both proxies (websockify's per-connection
 * children are counted once they are reaped), plus process.cpuUsage() inside ours as a cross-check.
 *
 *   node bench/console-proxy/run.mjs [--mib 512] [--rounds 5] [--rtt 2000] [--out bench/results/console-proxy.json]
 *                                    [--tune '{"readSize":262144}']
 *
 * Leaves the machine as it found it: children are ended by pid, the temp dir is removed, and if websockify
 * had to be installed with apt-get, exactly the packages that install added are purged again.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const opt = parseArgs(process.argv.slice(2), { mib: '512', rounds: '5', rtt: '2000', out: 'bench/results/console-proxy.json', tune: '' });
const TOTAL = Number(opt.mib) * 1024 * 1024;
const ROUNDS = Number(opt.rounds);
const RTT_N = Number(opt.rtt);
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const CHUNK = Buffer.alloc(64 * 1024, 7);

// ---- cleanup: everything we create is registered here and undone on any exit -----------------------
const children = new Set();
let tmp = null;
let installedPkgs = [];
let cleaned = false;
/**
 * Orderly: grandchildren first (websockify's per-connection processes, so websockify reaps them), then
 * our children, waiting for each exit so Node reaps them too — nothing is left behind as a zombie.
 */
async function shutdown() {
  if (cleaned) return;
  for (const c of children) for (const pid of descendants(c.pid)) tryKill(pid);
  await sleep(200);
  const exits = [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of children) tryKill(c.pid);
  await Promise.race([Promise.all(exits), sleep(3000)]);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) tryKill(c.pid, 'SIGKILL');
  finalCleanup();
}
/** The synchronous part, also run from the 'exit' handler as a last resort. */
function finalCleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) tryKill(c.pid);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (installedPkgs.length) {
    console.error(`bench: purging what we installed: ${installedPkgs.join(' ')}`);
    spawnSync('apt-get', ['purge', '-y', ...installedPkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}
process.on('exit', finalCleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void shutdown().finally(() => process.exit(130)));

function tryKill(pid, sig = 'SIGTERM') {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// ---- websockify: use Debian's, installing it only if missing ------------------------------------------
function installedPackages() {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package}\\n'], { encoding: 'utf8' });
  return new Set(r.stdout.split('\n').filter(Boolean));
}
function ensureWebsockify() {
  if (spawnSync('websockify', ['--help'], { stdio: 'ignore' }).status === 0) return;
  console.error('bench: websockify missing; installing the Debian package');
  const before = installedPackages();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'websockify'], { stdio: 'inherit', env });
  installedPkgs = [...installedPackages()].filter((p) => !before.has(p));
  if (r.status !== 0) throw new Error('apt-get install websockify failed');
}
function websockifyVersion() {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'websockify'], { encoding: 'utf8' });
  return r.stdout.trim() || 'unknown';
}

// ---- /proc helpers -------------------------------------------------------------------------------------
function procStat(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}
function descendants(pid) {
  const all = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (procStat(Number(d)).ppid === pid) all.push(Number(d), ...descendants(Number(d)));
    } catch {
      // exited while we looked
    }
  }
  return all;
}
/** CPU seconds of pid and its reaped children; waits until no child is left so their time is included. */
async function cpuSeconds(pid) {
  for (let i = 0; i < 100 && descendants(pid).length; i++) await sleep(20);
  return procStat(pid).ticks / CLK_TCK;
}

// ---- the source: a fake VNC server ---------------------------------------------------------------------
function onSourceConn(s) {
  s.on('error', () => {});
  s.once('data', (first) => {
    if (first[0] === 0x53 /* S */) {
      let left = TOTAL;
      const pump = () => {
        while (left > 0) {
          left -= CHUNK.length;
          if (!s.write(CHUNK)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    } else {
      s.write(first.subarray(0, 1)); // ack, then echo everything
      s.on('data', (d) => s.write(d));
    }
  });
}

// ---- clients -------------------------------------------------------------------------------------------
function rawStream(connectOpts) {
  return new Promise((resolve, reject) => {
    const c = net.connect(connectOpts);
    let n = 0;
    let t0;
    c.on('connect', () => {
      t0 = process.hrtime.bigint();
      c.write('S');
    });
    c.on('data', (d) => (n += d.length));
    c.on('end', () => (n === TOTAL ? resolve(secs(t0)) : reject(new Error(`raw: got ${n} of ${TOTAL}`))));
    c.on('error', reject);
  });
}
function wsStream(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    let n = 0;
    let t0;
    ws.on('open', () => {
      t0 = process.hrtime.bigint();
      ws.send(Buffer.from('S'));
    });
    ws.on('message', (d) => {
      n += d.length;
      if (n >= TOTAL) {
        const s = secs(t0);
        ws.close();
        resolve(s);
      }
    });
    ws.on('close', () => n < TOTAL && reject(new Error(`ws ${url}: closed after ${n} of ${TOTAL}`)));
    ws.on('error', reject);
  });
}

/** Sequential round trips of a 10-byte message; returns sorted RTTs in microseconds. */
async function roundTrips(send, onReply, n) {
  const msg = Buffer.from([5, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const rtts = [];
  for (let i = 0; i < n + 200; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((r) => {
      let got = 0;
      onReply((d) => {
        got += d.length;
        if (got >= msg.length) r();
      });
      send(msg);
    });
    if (i >= 200) rtts.push(Number(process.hrtime.bigint() - t0) / 1000); // first 200 warm up the JIT
  }
  return rtts.sort((a, b) => a - b);
}
function rawRtt(connectOpts) {
  return new Promise((resolve, reject) => {
    const c = net.connect(connectOpts);
    c.setNoDelay?.(true);
    let handler = null;
    c.once('connect', () => c.write('E'));
    c.once('data', async () => {
      c.on('data', (d) => handler(d));
      resolve(await roundTrips((m) => c.write(m), (h) => (handler = h), RTT_N));
      c.destroy();
    });
    c.on('error', reject);
  });
}
function wsRtt(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    let handler = null;
    ws.once('open', () => ws.send(Buffer.from('E')));
    ws.once('message', async () => {
      ws.on('message', (d) => handler(d));
      resolve(await roundTrips((m) => ws.send(m), (h) => (handler = h), RTT_N));
      ws.close();
    });
    ws.on('error', reject);
  });
}

// ---- main ----------------------------------------------------------------------------------------------
async function main() {
  ensureWebsockify();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'console-bench-'));
  const srcSock = path.join(tmp, 'vnc.sock');
  const srcUnix = net.createServer(onSourceConn);
  const srcTcp = net.createServer(onSourceConn);
  await new Promise((r) => srcUnix.listen(srcSock, r));
  await new Promise((r) => srcTcp.listen(0, '127.0.0.1', r));
  const tcpPort = srcTcp.address().port;

  const ours = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/console-proxy/proxy-server.ts'), srcSock], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(ours);
  const oursPort = await new Promise((resolve, reject) => {
    let buf = '';
    ours.stdout.on('data', (d) => {
      buf += d;
      const m = /\{"port":(\d+)\}/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    ours.once('exit', (c) => reject(new Error(`proxy-server exited with ${c}`)));
  });
  const oursHttp = `http://127.0.0.1:${oursPort}`;
  if (opt.tune) await fetch(`${oursHttp}/tune`, { method: 'POST', body: opt.tune });
  const tuning = await (await fetch(`${oursHttp}/tune`, { method: 'POST', body: '{}' })).json();

  const wsfyPort = await freePort();
  const wsfy = spawn('websockify', [`127.0.0.1:${wsfyPort}`, `--unix-target=${srcSock}`], { stdio: 'ignore' });
  children.add(wsfy);
  await waitListening(wsfyPort);

  const oursUrl = async () => {
    const { ticket } = await (await fetch(`${oursHttp}/ticket`, { method: 'POST' })).json();
    return `ws://127.0.0.1:${oursPort}/ws/vnc/bench-vm?ticket=${ticket}`;
  };
  const wsfyUrl = `ws://127.0.0.1:${wsfyPort}/`;
  const oursCpuUsage = async () => {
    const u = await (await fetch(`${oursHttp}/cpu`)).json();
    return (u.user + u.system) / 1e6;
  };

  const runs = { rawUnix: [], rawTcp: [], ours: [], websockify: [] };
  const cpu = { ours: [], oursCpuUsage: [], websockify: [] };
  // This process (source + client) for each path: shows which side limits the throughput.
  const clientCpu = { rawUnix: [], rawTcp: [], ours: [], websockify: [] };
  const timed = async (path, fn) => {
    const c0 = process.cpuUsage();
    const secs = await fn();
    const c = process.cpuUsage(c0);
    clientCpu[path].push((c.user + c.system) / 1e6);
    runs[path].push(secs);
  };
  // One unmeasured pass each: JIT warm-up, page cache, websockify's first fork.
  await rawStream({ path: srcSock });
  await wsStream(await oursUrl());
  await wsStream(wsfyUrl);
  for (let i = 0; i < ROUNDS; i++) {
    await timed('rawUnix', () => rawStream({ path: srcSock }));
    await timed('rawTcp', () => rawStream({ port: tcpPort, host: '127.0.0.1' }));
    const url = await oursUrl();
    const c0 = await cpuSeconds(ours.pid);
    const u0 = await oursCpuUsage();
    await timed('ours', () => wsStream(url));
    cpu.ours.push((await cpuSeconds(ours.pid)) - c0);
    cpu.oursCpuUsage.push((await oursCpuUsage()) - u0);
    const w0 = await cpuSeconds(wsfy.pid);
    await timed('websockify', () => wsStream(wsfyUrl));
    cpu.websockify.push((await cpuSeconds(wsfy.pid)) - w0);
    console.error(`round ${i + 1}/${ROUNDS}: ` + Object.entries(runs).map(([k, v]) => `${k} ${mibs(v.at(-1)).toFixed(0)} MiB/s`).join(', '));
  }

  const rtt = {
    rawUnix: await rawRtt({ path: srcSock }),
    ours: await wsRtt(await oursUrl()),
    websockify: await wsRtt(wsfyUrl),
  };

  const GiB = TOTAL / 2 ** 30;
  const thr = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { medianMiBs: round(mibs(median(v))), runsMiBs: v.map((s) => round(mibs(s))) }]));
  const lat = Object.fromEntries(Object.entries(rtt).map(([k, v]) => [k, { p50us: round(pct(v, 50)), p99us: round(pct(v, 99)) }]));
  const cpuPerGiB = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(median(v) / GiB, 3)]));
  const ratio = (a, b) => round(thr[a].medianMiBs / thr[b].medianMiBs, 3);
  const result = {
    when: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release(), node: process.version, websockify: websockifyVersion() },
    streamMiB: TOTAL / 2 ** 20,
    rounds: ROUNDS,
    ourTuning: tuning,
    throughput: thr,
    ratios: { oursVsWebsockify: ratio('ours', 'websockify'), oursVsRawTcp: ratio('ours', 'rawTcp'), oursVsRawUnix: ratio('ours', 'rawUnix') },
    latency: {
      roundTrips: RTT_N,
      ...lat,
      addedP50us: { ours: round(lat.ours.p50us - lat.rawUnix.p50us), websockify: round(lat.websockify.p50us - lat.rawUnix.p50us) },
      addedP99us: { ours: round(lat.ours.p99us - lat.rawUnix.p99us), websockify: round(lat.websockify.p99us - lat.rawUnix.p99us) },
    },
    cpuSecondsPerGiB: cpuPerGiB,
    /** CPU of the benchmark process itself (source + receiving client) per GiB, per path; near 1 s per second of wall time means it was the bottleneck. */
    clientCpuSecondsPerGiB: Object.fromEntries(Object.entries(clientCpu).map(([k, v]) => [k, round(median(v) / GiB, 3)])),
    clientCpuBusyFraction: Object.fromEntries(Object.entries(clientCpu).map(([k, v]) => [k, round(median(v.map((c, i) => c / runs[k][i])), 2)])),
  };
  result.targets = {
    'throughput >= 1.3x websockify': result.ratios.oursVsWebsockify >= 1.3,
    'throughput within 25% of direct TCP loopback': result.ratios.oursVsRawTcp >= 0.75,
    'throughput within 25% of direct unix loopback': result.ratios.oursVsRawUnix >= 0.75,
    'added p50 latency <= websockify': result.latency.addedP50us.ours <= result.latency.addedP50us.websockify,
    'CPU per GiB < websockify': cpuPerGiB.ours < cpuPerGiB.websockify,
  };
  const out = path.resolve(ROOT, opt.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  srcUnix.close();
  srcTcp.close();
}

// ---- small helpers -------------------------------------------------------------------------------------
function parseArgs(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z]+)$/.exec(argv[i]);
    if (!m || !(m[1] in o)) throw new Error(`unknown argument ${argv[i]}`);
    o[m[1]] = argv[++i];
  }
  return o;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const mibs = (s) => TOTAL / 2 ** 20 / s;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
async function waitListening(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${port}`);
}

main().then(
  () => shutdown().finally(() => process.exit(0)),
  (e) => {
    console.error(e);
    shutdown().finally(() => process.exit(1));
  },
);
