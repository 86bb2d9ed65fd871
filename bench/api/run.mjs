#!/usr/bin/env node
/**
 * bench/api — our control plane's API next to raw QMP and libvirt 9.0, in one run.  `npm run bench:api`
 *
 *   1. a VM state read: GET /api/vms/{id} (cookie, keep-alive, sequential) vs a raw QMP `query-status`
 *      on a long-lived socket to a QEMU this bench starts by hand (-qmp unix:…) vs libvirt's
 *      `dom.state()` (python3-libvirt, long-lived connection) — p50/p99 of N sequential calls each;
 *   2. start: POST /api/vms/{id}/start (it answers once QEMU runs the guest) vs `virsh start`;
 *   3. force power-off: POST /api/vms/{id}/poweroff (it answers once QEMU is gone) vs `virsh destroy`;
 *      target: 10× faster than virsh destroy;
 *   4. throughput with 50 concurrent clients: wrk (Debian's, installed for the run if missing and
 *      purged after) and a plain Node loop of 50 keep-alive fetches, vs libvirt dom.state() from 50
 *      threads on 50 connections.
 *
 * The VM on both sides: 256 MiB, 1 vCPU (3 max), q35 under TCG, a new 64 MiB qcow2 disk, the test guest
 * ISO as CD-ROM, one virtio user-mode NIC, VNC; the guest boots from the ISO for --settle seconds before
 * each power-off. libvirt runs first (brought up through ../shared/anchors), is stopped, then ours.
 *
 *   node bench/api/run.mjs [--runs 5] [--rtt 2000] [--settle 2] [--tput-seconds 10] [--clients 50]
 *                          [--peers true|false] [--out bench/results/api.json]
 *
 * Leaves the machine as it found it: the libvirt domain and its files, the QEMU started by hand, our
 * server with its QEMU and data dir, wrk if we installed it, and what libvirt-up.sh started are undone,
 * also on failure or Ctrl-C.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureBuild } from '../../scripts/lib.mjs';
import { Cleanup, ROOT, aptEnsure, aptPurge, busyProcesses, loadavg, log, machine, now, parseArgs, ratio, sh, sleep, summ, writeResult } from '../lib/common.mjs';
import { PEER_PY, PY, libvirtDown, libvirtPeer, libvirtUp, peerState, removePeerState } from '../lib/anchors.mjs';
import { BenchServer } from '../lib/server.mjs';

const opt = parseArgs(process.argv.slice(2), { runs: '5', rtt: '2000', settle: '2', 'tput-seconds': '10', clients: '50', peers: 'true', out: 'bench/results/api.json' });
const RUNS = Number(opt.runs);
const RTT = Number(opt.rtt);
const SETTLE = Number(opt.settle);
const TPUT_S = Number(opt['tput-seconds']);
const CLIENTS = Number(opt.clients);
const GUEST_ISO = path.join(process.env.GUEST_DIR ?? path.join(ROOT, '.cache', 'guest'), 'guest.iso');
const PEER_DOM = 'anchor-webvmm-api';

const cleanup = new Cleanup();
const result = {
  bench: 'api',
  date: new Date().toISOString(),
  machine: machine(),
  command: 'npm run bench:api',
  options: { runs: RUNS, rtt_samples: RTT, settle_s: SETTLE, throughput_seconds: TPUT_S, clients: CLIENTS },
  vm:
    '256 MiB, 1 vCPU (3 max), q35 TCG, new 64 MiB qcow2 disk, the test guest ISO as CD-ROM (it boots it), one virtio ' +
    'user-mode NIC, VNC: the same shape on both sides. The peer runs first, then is stopped, then ours.',
  load: { at_start: loadavg(), busy_at_start: busyProcesses() },
  peers: {},
  raw_qmp: {},
  ours: {},
  targets: {},
  errors: [],
};

function fail(where, e) {
  const msg = `${where}: ${e?.message ?? e}`;
  log(`ERROR ${msg}`);
  result.errors.push(msg);
}

// ---------------------------------------------------------------------------------------------------
async function peers() {
  const mark = cleanup.mark();
  try {
    const state = peerState('api');
    cleanup.add('anchor state dir', () => removePeerState(state));
    cleanup.add('libvirt-down.sh', () => libvirtDown(state));
    const lv = libvirtUp(state);
    result.peers.libvirt_up = lv;
    if (!lv.ok) throw new Error(`libvirt could not be brought up: ${lv.error}`);
    cleanup.add(`destroy+undefine ${PEER_DOM}`, () => sh(PY, [PEER_PY, 'cleanup', '--n', '0', '--dom', PEER_DOM], { timeout: 120_000 }));
    log(`peers: libvirt: ${RUNS} × (virsh start, ${SETTLE} s, virsh destroy, dom.create(), ${SETTLE} s, dom.destroy()); ${RTT} dom.state(); ${CLIENTS} threads × ${TPUT_S} s`);
    result.load.before_libvirt = loadavg();
    result.peers.libvirt = libvirtPeer([
      'api', '--dom', PEER_DOM, '--iso', GUEST_ISO, '--state', state, '--runs', String(RUNS), '--rtt', String(RTT),
      '--settle', String(SETTLE), '--tput-seconds', String(TPUT_S), '--tput-clients', String(CLIENTS),
    ]);
    log(`peers: virsh start ${result.peers.libvirt.virsh_start.median_ms} ms, virsh destroy ${result.peers.libvirt.virsh_destroy.median_ms} ms, dom.state() p50 ${result.peers.libvirt.rtt.pylibvirt_dom_state?.p50_ms} ms`);
  } catch (e) {
    fail('peers', e);
    result.peers.error = String(e?.message ?? e);
  } finally {
    cleanup.runSince(mark); // stop libvirt before ours is measured
  }
}

// ---------------------------------------------------------------------------------------------------
/** A minimal QMP client on a unix socket: newline-delimited JSON, one command in flight. */
class RawQmp {
  static connect(sockPath) {
    return new Promise((resolve, reject) => {
      const q = new RawQmp();
      q.sock = net.connect(sockPath);
      q.buf = '';
      q.waiters = [];
      q.sock.setNoDelay?.(true);
      q.sock.on('data', (d) => {
        q.buf += d.toString();
        let i;
        while ((i = q.buf.indexOf('\n')) >= 0) {
          const line = q.buf.slice(0, i);
          q.buf = q.buf.slice(i + 1);
          const m = JSON.parse(line);
          if (m.event) continue;
          q.waiters.shift()?.(m);
        }
      });
      q.sock.once('error', reject);
      q.waiters.push(async () => {
        await q.cmd('qmp_capabilities');
        resolve(q);
      });
    });
  }

  cmd(execute) {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.sock.write(`{"execute":"${execute}"}\n`);
    });
  }

  close() {
    this.sock.destroy();
  }
}

async function rawQmp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-qmp-'));
  cleanup.add('raw QMP dir', () => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'qmp.sock');
  const argv = ['-machine', 'q35,accel=tcg', '-m', '256', '-nodefaults', '-display', 'none', '-device', 'VGA', '-qmp', `unix:${sock},server=on,wait=off`];
  const q = spawn('qemu-system-x86_64', argv, { stdio: 'ignore' });
  cleanup.add('hand-started QEMU', () => {
    try {
      q.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(20);
  const c = await RawQmp.connect(sock);
  for (let i = 0; i < 50; i++) await c.cmd('query-status');
  const lat = [];
  for (let i = 0; i < RTT; i++) {
    const t = now();
    const r = await c.cmd('query-status');
    lat.push(now() - t);
    if (!r.return) throw new Error(`query-status: ${JSON.stringify(r)}`);
  }
  c.close();
  await sleep(50);
  const oneshot = [];
  for (let i = 0; i < 100; i++) {
    const t = now();
    const c2 = await RawQmp.connect(sock);
    await c2.cmd('query-status');
    c2.close();
    oneshot.push(now() - t);
    await sleep(2); // QEMU's QMP chardev serves one client at a time: let it see the close
  }
  q.kill('SIGKILL');
  result.raw_qmp = {
    what: `query-status on a long-lived QMP unix socket from Node (this process), to a QEMU started by hand: qemu-system-x86_64 ${argv.join(' ')}`,
    query_status: summ(lat),
    connect_negotiate_query_close: summ(oneshot),
  };
  log(`raw QMP: query-status p50 ${result.raw_qmp.query_status.p50_ms} ms, p99 ${result.raw_qmp.query_status.p99_ms} ms`);
}

// ---------------------------------------------------------------------------------------------------
async function ours() {
  ensureBuild();
  const s = new BenchServer({ ui: true });
  cleanup.add('our server, its QEMU and data dir', () => s.killAll());
  const pool = path.join(s.dataDir, 'pools', 'default');
  fs.mkdirSync(pool, { recursive: true });
  fs.copyFileSync(GUEST_ISO, path.join(pool, 'guest.iso'));
  await s.start();
  await s.login();
  log(`ours: server on ${s.url} (pid ${s.pid})`);
  const vm = await s.ok('POST', '/api/vms', {
    name: 'bench-api', memoryMiB: 256, maxMemoryMiB: 256, vcpus: 1, maxVcpus: 3, disks: [{ sizeMiB: 64 }], cdrom: 'default/guest.iso', nics: [{}],
  });
  const O = result.ours;
  const start = [];
  const poweroff = [];
  const pidAfter = [];
  result.load.before_ours = loadavg();
  for (let i = 0; i < RUNS; i++) {
    log(`ours: run ${i + 1}/${RUNS}`);
    let t = now();
    const v = await s.ok('POST', `/api/vms/${vm.id}/start`);
    start.push(now() - t);
    if (v.state !== 'running') throw new Error(`after start the VM is ${v.state}`);
    await sleep(SETTLE * 1000);
    if (i === 0) {
      O.state_read = await stateRead(s, vm.id);
      log(`ours: GET /api/vms/{id} p50 ${O.state_read.p50_ms} ms, p99 ${O.state_read.p99_ms} ms`);
      O.http_floor = await httpFloor(JSON.stringify(await s.ok('GET', `/api/vms/${vm.id}`)));
      log(`ours: bare node:http floor p50 ${O.http_floor.p50_ms} ms, p99 ${O.http_floor.p99_ms} ms`);
      O.throughput = await throughput(s, vm.id);
    }
    t = now();
    const off = await s.ok('POST', `/api/vms/${vm.id}/poweroff`);
    poweroff.push(now() - t);
    if (off.state !== 'shutoff') throw new Error(`after poweroff the VM is ${off.state}`);
    // the answer must mean QEMU is gone: its pid is dead (or an unreaped zombie) at this instant
    const pstate = procState(v.runtime.pid);
    pidAfter.push(pstate);
    if (pstate !== 'gone' && pstate !== 'Z' && pstate !== 'X') throw new Error(`QEMU pid ${v.runtime.pid} is still alive (${pstate}) after poweroff answered`);
    await sleep(500);
  }
  O.start = { ...summ(start), what: 'POST /api/vms/{id}/start until it answers: QEMU spawned (-S), QMP connected, serial reader attached, cont, query-status says running' };
  O.poweroff = { ...summ(poweroff), what: 'POST /api/vms/{id}/poweroff until it answers: QMP quit, QEMU exited (checked: its pid is gone or a zombie when the answer arrives), run dir cleaned' };
  O.poweroff.qemu_pid_state_when_answered = pidAfter;
  O.raw_ms = { start: start.map((x) => Math.round(x * 10) / 10), poweroff: poweroff.map((x) => Math.round(x * 10) / 10) };
  log(`ours: start median ${O.start.median_ms} ms, poweroff median ${O.poweroff.median_ms} ms`);
  await s.ok('DELETE', `/api/vms/${vm.id}?deleteDisks=true`);
}

function procState(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

/** The floor for any HTTP API here: a bare node:http server (own process) sending the same JSON, same client loop. */
async function httpFloor(body) {
  const code =
    "const http=require('http');const b=Buffer.from(process.env.BODY);" +
    "const s=http.createServer((q,r)=>{r.writeHead(200,{'content-type':'application/json','content-length':b.length});r.end(b)});" +
    "s.keepAliveTimeout=5000;s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
  const p = spawn(process.execPath, ['-e', code], { env: { ...process.env, BODY: body }, stdio: ['ignore', 'pipe', 'inherit'] });
  const kill = cleanup.add('bare http server', () => p.kill('SIGKILL'));
  try {
    const port = await new Promise((resolve, reject) => {
      p.stdout.once('data', (d) => resolve(Number(String(d).trim())));
      p.once('exit', (c) => reject(new Error(`bare http server exited ${c}`)));
    });
    const url = `http://127.0.0.1:${port}/`;
    for (let i = 0; i < 50; i++) await (await fetch(url)).arrayBuffer();
    const lat = [];
    for (let i = 0; i < RTT; i++) {
      const t = now();
      const r = await fetch(url);
      await r.json();
      lat.push(now() - t);
    }
    return { ...summ(lat), bytes: Buffer.byteLength(body), what: 'a bare node:http server in its own process answering the same JSON body, read with the same sequential fetch loop: the HTTP + client floor' };
  } finally {
    p.kill('SIGKILL');
    kill();
  }
}

async function stateRead(s, id) {
  const url = `${s.url}/api/vms/${id}`;
  const headers = { cookie: s.cookie };
  for (let i = 0; i < 50; i++) await (await fetch(url, { headers })).arrayBuffer();
  const lat = [];
  for (let i = 0; i < RTT; i++) {
    const t = now();
    const r = await fetch(url, { headers });
    const b = await r.json();
    lat.push(now() - t);
    if (r.status !== 200 || b.state !== 'running') throw new Error(`GET ${url}: ${r.status} ${b.state}`);
  }
  return { ...summ(lat), what: 'GET /api/vms/{id} with the session cookie, sequential, keep-alive (Node fetch), response parsed; the server answers from its cached state (QMP events keep it fresh)' };
}

async function throughput(s, id) {
  const url = `${s.url}/api/vms/${id}`;
  const out = {};
  // wrk, installed from Debian for the run if missing (and purged again)
  const w = aptEnsure(['wrk', '--version'], ['wrk']);
  if (w.installed.length) cleanup.add('purge wrk', () => aptPurge(w.installed));
  if (w.error) out.wrk = { error: `wrk could not be installed: ${w.error}` };
  else {
    const r = sh('wrk', ['-t2', `-c${CLIENTS}`, `-d${TPUT_S}s`, '--latency', '-H', `cookie: ${s.cookie}`, url], { timeout: (TPUT_S + 30) * 1000 });
    const txt = r.stdout;
    const lat = (p) => {
      const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(txt);
      return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : null;
    };
    out.wrk = {
      tool: `wrk -t2 -c${CLIENTS} -d${TPUT_S}s --latency (cookie header)`,
      req_per_s: Number(/Requests\/sec:\s+([\d.]+)/.exec(txt)?.[1] ?? NaN),
      latency_p50_ms: lat(50),
      latency_p99_ms: lat(99),
      non_2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(txt)?.[1] ?? 0),
      socket_errors: /Socket errors:.*/.exec(txt)?.[0] ?? null,
      installed_for_the_run: w.installed,
    };
    if (r.code !== 0) out.wrk.error = r.stderr.slice(-500);
    log(`ours: wrk ${out.wrk.req_per_s} req/s (p50 ${out.wrk.latency_p50_ms} ms, p99 ${out.wrk.latency_p99_ms} ms)`);
  }
  await sleep(1000);
  // a plain Node loop: CLIENTS concurrent keep-alive fetch loops for TPUT_S seconds
  const headers = { cookie: s.cookie };
  const lat = [];
  let n = 0;
  let bad = 0;
  const t0 = now();
  const end = t0 + TPUT_S * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (now() < end) {
        const t = now();
        const r = await fetch(url, { headers });
        await r.arrayBuffer();
        lat.push(now() - t);
        if (r.status === 200) n++;
        else bad++;
      }
    }),
  );
  const el = (now() - t0) / 1000;
  const l = summ(lat);
  out.node_loop = {
    tool: `${CLIENTS} concurrent keep-alive fetch() loops in one Node process for ${TPUT_S} s (the client shares the 2 cores with the server)`,
    req_per_s: Math.round((n / el) * 10) / 10,
    latency_p50_ms: l.p50_ms,
    latency_p99_ms: l.p99_ms,
    non_2xx: bad,
  };
  log(`ours: node loop ${out.node_loop.req_per_s} req/s`);
  return out;
}

// ---------------------------------------------------------------------------------------------------
function targets() {
  const T = result.targets;
  const L = result.peers.libvirt;
  const O = result.ours;
  const dom = L?.rtt?.pylibvirt_dom_state;
  T.state_read = {
    target: 'next to raw QMP query-status and libvirt dom.state() (no numeric target)',
    ours_p50_ms: O.state_read?.p50_ms ?? null,
    ours_p99_ms: O.state_read?.p99_ms ?? null,
    raw_qmp_p50_ms: result.raw_qmp.query_status?.p50_ms ?? null,
    raw_qmp_p99_ms: result.raw_qmp.query_status?.p99_ms ?? null,
    libvirt_dom_state_p50_ms: dom?.p50_ms ?? null,
    libvirt_dom_state_p99_ms: dom?.p99_ms ?? null,
    ours_vs_raw_qmp_p50: ratio(O.state_read?.p50_ms, result.raw_qmp.query_status?.p50_ms),
    ours_vs_libvirt_p50: ratio(O.state_read?.p50_ms, dom?.p50_ms),
    bare_node_http_floor_p50_ms: O.http_floor?.p50_ms ?? null,
    bare_node_http_floor_p99_ms: O.http_floor?.p99_ms ?? null,
  };
  const vs = L?.virsh_start?.median_ms ?? null;
  T.start = {
    target: 'next to virsh start (no numeric target)',
    ours_ms: O.start?.median_ms ?? null,
    virsh_start_ms: vs,
    libvirt_api_create_ms: L?.pylibvirt_create?.median_ms ?? null,
    ours_vs_virsh: ratio(O.start?.median_ms, vs),
  };
  const vd = L?.virsh_destroy?.median_ms ?? null;
  const po = O.poweroff?.median_ms ?? null;
  T.poweroff = {
    target: '10× faster than virsh destroy (same run)',
    ours_ms: po,
    virsh_destroy_ms: vd,
    libvirt_api_destroy_ms: L?.pylibvirt_destroy?.median_ms ?? null,
    target_ms: vd == null ? null : Math.round(vd / 10),
    speedup_vs_virsh: ratio(vd, po),
    ratio_to_target: vd == null ? null : ratio(po, vd / 10),
    met: po != null && vd != null ? po <= vd / 10 : null,
  };
  T.throughput = {
    target: `${CLIENTS} concurrent clients (no numeric target)`,
    ours_wrk_req_per_s: O.throughput?.wrk?.req_per_s ?? null,
    ours_node_loop_req_per_s: O.throughput?.node_loop?.req_per_s ?? null,
    libvirt_dom_state_req_per_s: L?.throughput_dom_state?.req_per_s ?? null,
    ours_wrk_vs_libvirt: ratio(O.throughput?.wrk?.req_per_s, L?.throughput_dom_state?.req_per_s),
  };
}

async function main() {
  log('bench/api: ours vs raw QMP vs libvirt');
  if (!fs.existsSync(GUEST_ISO)) {
    log(`${GUEST_ISO} missing: building the test guest (bash scripts/build-test-guest.sh)`);
    const r = sh('bash', [path.join(ROOT, 'scripts', 'build-test-guest.sh')], { timeout: 1_800_000 });
    if (r.code !== 0) throw new Error(`build-test-guest.sh failed: ${r.stderr.slice(-1000)}`);
  }
  if (opt.peers !== 'false') await peers();
  try {
    await rawQmp();
  } catch (e) {
    fail('raw QMP', e);
  }
  try {
    await ours();
  } catch (e) {
    fail('ours', e);
  }
  targets();
  result.load.at_end = loadavg();
  result.load.busy_at_end = busyProcesses();
  writeResult(opt.out, result);
  for (const [k, v] of Object.entries(result.targets)) log(`${k}: ${JSON.stringify(v)}`);
}

try {
  await main();
} finally {
  cleanup.run();
}
process.exit(result.errors.length ? 1 : 0);
