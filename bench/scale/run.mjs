#!/usr/bin/env node
/**
 * bench/scale — 50 VMs defined and 50 running, ours side by side with libvirt 9.0 + Cockpit
 * (cockpit-machines) brought up in the same run through ../shared/anchors.  `npm run bench:scale`
 *
 * The guests: tiny TCG VMs with NO boot media (128 MiB, 1 vCPU, q35, no disk, no NIC, no CD). SeaBIOS
 * finds nothing to boot and idles ("No bootable device", it retries every 60 s, which QEMU reports as a
 * guest reset). Our API cannot start QEMU paused (-S is internal to our start sequence), so instead of
 * scale50.sh's `start --paused` the libvirt domains are started the same way: running, no boot media,
 * the same size. 100 TCG QEMUs at once would not fit 2 cores honestly, so the two sides run one after
 * the other, each with only its own 50 QEMUs up: peers first, then ours.
 *
 * Measured (each next to the peer's):
 *   1. click Log in → all 50 listed, in Debian's Chromium via Playwright: our dashboard vs Cockpit's
 *      Machines page (cockpit-measure.mjs --prefix … --count 50), with 50 defined and with 50 running;
 *   2. server RSS and CPU over a window while idle with 50 running: no browser watching, and with one
 *      dashboard open; next to libvirtd's (no browser) — /proc/<pid>/status VmRSS, /proc/<pid>/stat.
 *      On both sides the idle window (--idle s) follows a settling window (--settle s, also recorded)
 *      that starts right after the 50th start: garbage collection after the starts and the page loads
 *      before them is not "idle";
 *   3. one state change (pause) fanned out to 100 /ws/events clients: API call → all 100 saw it;
 *   4. kill -9 of the server, start again: the server's own "reattached N running VM(s) in X ms" and
 *      spawn → GET /api/vms lists all 50 running; plus the API-only server's (VMM_UI=0) idle RSS.
 *
 *   node bench/scale/run.mjs [--n 50] [--runs 5] [--idle 60] [--idle-dash 30] [--clients 100]
 *                            [--fanouts 7] [--restarts 3] [--settle 30] [--peers true|false] [--out bench/results/scale.json]
 *
 * Leaves the machine as it found it: our server, QEMUs and data dir, the libvirt domains it defined,
 * and whatever the anchor scripts started for it (libvirt-down.sh / cockpit-down.sh) are all undone,
 * also on failure or Ctrl-C.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuild } from '../../scripts/lib.mjs';
import { CLK_TCK, Cleanup, ROOT, busyProcesses, loadavg, log, machine, measureIdle, now, parseArgs, procSample, ratio, sh, sleep, summ, writeResult } from '../lib/common.mjs';
import { PEER_PY, PY, cockpitDown, cockpitMeasure, cockpitUp, libvirtDown, libvirtPeer, libvirtUp, libvirtdPid, peerState, removePeerState } from '../lib/anchors.mjs';
import { ADMIN_PASSWORD, BenchServer, qemuPidsUnder } from '../lib/server.mjs';
import { launchChromium, loginAndWaitListed, measureLoginToListed } from '../lib/browser.mjs';

const opt = parseArgs(process.argv.slice(2), {
  n: '50', runs: '5', idle: '60', 'idle-dash': '30', clients: '100', fanouts: '7', restarts: '3', peers: 'true', settle: '30',
  out: 'bench/results/scale.json',
});
const N = Number(opt.n);
const RUNS = Number(opt.runs);
const IDLE_S = Number(opt.idle);
const IDLE_DASH_S = Number(opt['idle-dash']);
const CLIENTS = Number(opt.clients);
const FANOUTS = Number(opt.fanouts);
const RESTARTS = Number(opt.restarts);
const SETTLE_S = Number(opt.settle);
const PEER_PREFIX = 'anchor-s';
const OUR_PREFIX = 'bench-s';
const ART = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-art-'));

const cleanup = new Cleanup();
cleanup.add('artifacts dir', () => fs.rmSync(ART, { recursive: true, force: true }));

const result = {
  bench: 'scale',
  date: new Date().toISOString(),
  machine: machine(),
  command: 'npm run bench:scale',
  options: { n: N, runs: RUNS, idle_s: IDLE_S, idle_dash_s: IDLE_DASH_S, ws_clients: CLIENTS, fanouts: FANOUTS, restarts: RESTARTS, settle_s: SETTLE_S },
  guests:
    `${N} tiny TCG guests per side, 128 MiB, 1 vCPU, q35, no disk/NIC/CD: SeaBIOS finds no boot media and idles ` +
    '(retrying every 60 s). Ours are started through the API (it has no "start paused"); the libvirt domains are ' +
    'started the same way (running, not --paused as scale50.sh does). The two sides run one after the other.',
  load: { at_start: loadavg(), busy_at_start: busyProcesses() },
  peers: {},
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
// peers: libvirt + Cockpit
// ---------------------------------------------------------------------------------------------------
async function peers() {
  const state = peerState('scale');
  // registered first so they run last, after the domains are gone
  cleanup.add('anchor state dir', () => removePeerState(state));
  cleanup.add('libvirt-down.sh', () => libvirtDown(state));
  cleanup.add('cockpit-down.sh', () => cockpitDown(state));
  const P = (result.peers = { libvirt: {}, cockpit: {} });
  const lv = libvirtUp(state);
  P.libvirt.up = lv;
  if (!lv.ok) throw new Error(`libvirt could not be brought up: ${lv.error}`);
  const ck = await cockpitUp(state);
  P.cockpit.up = ck;
  if (!ck.ok) fail('cockpit-up', ck.error);

  const lpid = libvirtdPid();
  if (!lpid) throw new Error('libvirtd is not running after libvirt-up.sh');
  P.libvirt.libvirtd_pid = lpid;
  P.libvirt.libvirtd_rss_mib_before_define = procSample(lpid).rssKiB / 1024;

  const cancelDomains = cleanup.add(`destroy+undefine ${PEER_PREFIX}01..${N}`, () => sh(PY, [PEER_PY, 'cleanup', '--prefix', PEER_PREFIX, '--n', String(N)], { timeout: 300_000 }));
  P.libvirt.define = libvirtPeer(['scale-define', '--prefix', PEER_PREFIX, '--n', String(N)]);
  await sleep(2000);
  P.libvirt.libvirtd_rss_mib_defined = procSample(lpid).rssKiB / 1024;
  if (ck.ok) {
    result.load.before_cockpit_defined = loadavg();
    P.cockpit.defined = cockpitMeasure({ prefix: PEER_PREFIX, count: N, runs: RUNS, out: path.join(ART, 'cockpit-defined.json'), shot: path.join(ART, 'cockpit-defined.png') });
  }

  log(`peers: starting ${N} libvirt domains (running, no boot media)`);
  const st = libvirtPeer(['scale-start', '--prefix', PEER_PREFIX, '--n', String(N)]);
  const qpids = Object.values(st.qemu_pids);
  delete st.qemu_pids;
  P.libvirt.start = st;
  log(`peers: ${N} started in ${st.start_all_s} s; ${SETTLE_S} s settling window, then ${IDLE_S} s idle window`);
  P.libvirt.settling_after_starts = (await measureIdle({ libvirtd: lpid }, SETTLE_S)).libvirtd;
  result.load.before_libvirt_idle = loadavg();
  const idle = await measureIdle({ libvirtd: lpid, qemus: qpids }, IDLE_S);
  P.libvirt.idle_50_running = idle.libvirtd;
  P.libvirt.qemus_50_running = idle.qemus;
  log(`peers: libvirtd idle: ${JSON.stringify(idle.libvirtd)}`);
  if (ck.ok) {
    result.load.before_cockpit_running = loadavg();
    const before = procSample(lpid);
    P.cockpit.running = cockpitMeasure({ prefix: PEER_PREFIX, count: N, runs: RUNS, out: path.join(ART, 'cockpit-running.json'), shot: path.join(ART, 'cockpit-running.png') });
    const after = procSample(lpid);
    P.libvirt.libvirtd_rss_mib_after_cockpit_runs = after.rssKiB / 1024;
    P.libvirt.libvirtd_cpu_s_during_cockpit_runs = (after.ticks - before.ticks) / CLK_TCK;
  }
  const t0 = now();
  P.libvirt.cleanup = libvirtPeer(['cleanup', '--prefix', PEER_PREFIX, '--n', String(N)]);
  P.libvirt.destroy_undefine_all_s = Math.round(now() - t0) / 1000;
  delete P.libvirt.cleanup;
  cancelDomains();
}

// ---------------------------------------------------------------------------------------------------
// ours
// ---------------------------------------------------------------------------------------------------
async function ours() {
  const O = result.ours;
  ensureBuild();
  let s = new BenchServer({ ui: true });
  cleanup.add('our server, its QEMUs and data dir', () => s.killAll());
  const st0 = await s.start();
  await s.login();
  O.server_first_start = { spawn_to_listening_ms: Math.round(st0.spawn_to_listening_ms) };
  log(`ours: server on ${s.url} (pid ${s.pid}, data ${s.dataDir})`);

  // ---- 50 defined
  const ids = [];
  let t0 = now();
  for (let i = 1; i <= N; i++) {
    const name = `${OUR_PREFIX}${String(i).padStart(2, '0')}`;
    const vm = await s.ok('POST', '/api/vms', { name, memoryMiB: 128, maxMemoryMiB: 128, vcpus: 1, maxVcpus: 1, nics: [], disks: [], cdrom: null });
    ids.push(vm.id);
  }
  O.define_all_s = Math.round(now() - t0) / 1000;
  await sleep(2000);
  O.server_rss_mib_defined = procSample(s.pid).rssKiB / 1024;

  const browser = await launchChromium();
  try {
    const loginOpts = { url: s.url, username: 'admin', password: ADMIN_PASSWORD, prefix: OUR_PREFIX, count: N };
    result.load.before_ours_defined = loadavg();
    O.defined = await measureLoginToListed(browser, loginOpts, RUNS, path.join(ART, 'ours-defined.png'));

    // ---- 50 running
    log(`ours: starting ${N} VMs through the API`);
    const per = [];
    t0 = now();
    for (const id of ids) {
      const t = now();
      const v = await s.ok('POST', `/api/vms/${id}/start`);
      per.push(now() - t);
      if (v.state !== 'running') throw new Error(`VM ${v.name} is ${v.state} after start`);
    }
    O.start = { start_all_s: Math.round(now() - t0) / 1000, per_start: summ(per) };
    log(`ours: ${N} started in ${O.start.start_all_s} s; ${SETTLE_S} s settling window, then ${IDLE_S} s idle window (no browser)`);
    O.settling_after_starts = (await measureIdle({ server: s.pid }, SETTLE_S)).server;
    result.load.before_ours_idle = loadavg();
    const qpids = qemuPidsUnder(s.dataDir);
    if (qpids.length !== N) throw new Error(`expected ${N} QEMUs, found ${qpids.length}`);
    const idle = await measureIdle({ server: s.pid, qemus: qpids }, IDLE_S);
    O.idle_50_running_no_browser = idle.server;
    O.qemus_50_running = idle.qemus;
    log(`ours: server idle, no browser: ${JSON.stringify(idle.server)}`);

    result.load.before_ours_running = loadavg();
    O.running = await measureLoginToListed(browser, loginOpts, RUNS, path.join(ART, 'ours-running.png'));

    // ---- one dashboard open
    const dash = await loginAndWaitListed(browser, loginOpts);
    if (dash.err) throw new Error(`dashboard did not list all VMs: ${dash.err}`);
    await sleep(5000);
    const idleDash = await measureIdle({ server: s.pid }, IDLE_DASH_S);
    O.idle_50_running_one_dashboard = idleDash.server;
    log(`ours: server idle, one dashboard open: ${JSON.stringify(idleDash.server)}`);
    await dash.ctx.close();
  } finally {
    await browser.close().catch(() => {});
  }
  await sleep(3000);

  // ---- fan-out to 100 /ws/events clients
  O.fanout = await fanout(s, ids[0]);

  // ---- kill -9 and restart: reattach all 50
  const restarts = [];
  for (let k = 0; k < RESTARTS; k++) {
    const running = (await s.ok('GET', '/api/vms')).vms.filter((v) => v.state === 'running').length;
    if (running !== N) throw new Error(`before restart ${k + 1}: ${running} running, expected ${N}`);
    await s.kill9();
    await sleep(1000);
    const r = await restartAndTime(s);
    restarts.push(r);
    log(`ours: restart ${k + 1}/${RESTARTS}: ${r.reattach_line}; all ${N} listed running ${Math.round(r.spawn_to_all_listed_ms)} ms after spawn`);
    await sleep(2000);
  }
  O.restart = {
    reattach_ms_logged: summ(restarts.map((r) => r.reattach_ms_logged)),
    spawn_to_reattach_logged: summ(restarts.map((r) => r.spawn_to_reattach_logged_ms)),
    spawn_to_listening: summ(restarts.map((r) => r.spawn_to_listening_ms)),
    spawn_to_all_listed_running: summ(restarts.map((r) => r.spawn_to_all_listed_ms)),
    runs: restarts,
  };

  // ---- the same server without the web UI (VMM_UI=0): how much of the RSS is the web UI (the static pages)
  await s.kill9();
  const dataDir = s.dataDir;
  s = new BenchServer({ dataDir, ui: false });
  const r2 = await s.start();
  await s.login();
  log(`ours: API-only server (VMM_UI=0) reattached ${r2.reattached}; idle window ${IDLE_DASH_S} s`);
  await sleep(10_000);
  const idleApi = await measureIdle({ server: s.pid }, IDLE_DASH_S);
  O.api_only_server_idle_50_running = { ...idleApi.server, reattached: r2.reattached, note: 'VMM_UI=0: the same server without the web UI (the integration tests run it so); the UI is a static export served from out/' };

  // ---- tidy up through the API (force power-off, delete), then the safety net removes the data dir
  t0 = now();
  await Promise.all(
    Array.from({ length: 5 }, async (_, w) => {
      for (let i = w; i < ids.length; i += 5) {
        await s.api('POST', `/api/vms/${ids[i]}/poweroff`);
        await s.api('DELETE', `/api/vms/${ids[i]}`);
      }
    }),
  );
  O.poweroff_and_delete_all_s = Math.round(now() - t0) / 1000;
}

async function fanout(s, vmId) {
  log(`ours: opening ${CLIENTS} /ws/events clients`);
  const clients = [];
  let want = null;
  let pending = 0;
  let onAll = null;
  await Promise.all(
    Array.from({ length: CLIENTS }, () => {
      const c = { ws: s.events(), hello: false, t: null };
      clients.push(c);
      return new Promise((resolve, reject) => {
        c.ws.on('message', (data) => {
          const m = JSON.parse(data.toString());
          if (m.type === 'hello') {
            c.hello = true;
            resolve();
          } else if (want && m.type === 'vm' && m.vm.id === vmId && m.vm.state === want && c.t === null) {
            c.t = now();
            if (--pending === 0) onAll?.();
          }
        });
        c.ws.once('error', reject);
        c.ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
    }),
  );
  await sleep(1000);
  const runs = [];
  for (let k = 0; k < FANOUTS * 2; k++) {
    const action = k % 2 === 0 ? 'pause' : 'resume';
    want = action === 'pause' ? 'paused' : 'running';
    for (const c of clients) c.t = null;
    pending = clients.length;
    const all = new Promise((r) => (onAll = r));
    const t0 = now();
    const resP = s.api('POST', `/api/vms/${vmId}/${action}`).then((r) => ({ r, t: now() }));
    const timeout = sleep(10_000).then(() => 'timeout');
    const outcome = await Promise.race([all, timeout]);
    const { r, t: tRes } = await resP;
    if (r.status !== 200) throw new Error(`${action}: ${r.status} ${JSON.stringify(r.body)}`);
    const ts = clients.map((c) => c.t).filter((x) => x !== null);
    runs.push({
      action,
      received: ts.length,
      api_response_ms: tRes - t0,
      first_client_ms: Math.min(...ts) - t0,
      all_clients_ms: outcome === 'timeout' ? null : Math.max(...ts) - t0,
      spread_first_to_last_ms: Math.max(...ts) - Math.min(...ts),
    });
    await sleep(300);
  }
  for (const c of clients) c.ws.close();
  const pick = (a) => runs.filter((x) => x.action === a);
  const sum = (a) => ({
    api_call_to_all_clients: summ(pick(a).map((x) => x.all_clients_ms)),
    api_call_to_first_client: summ(pick(a).map((x) => x.first_client_ms)),
    api_response: summ(pick(a).map((x) => x.api_response_ms)),
    spread_first_to_last_client: summ(pick(a).map((x) => x.spread_first_to_last_ms)),
  });
  const out = {
    clients: CLIENTS,
    what: 'POST /api/vms/{id}/pause (then resume) → every one of the clients received the `vm` message with the new state; the clock starts just before the API call. The clients live in the bench process (one Node event loop), so their own JSON parsing is included.',
    pause: sum('pause'),
    resume: sum('resume'),
    runs: runs.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 100) / 100 : v]))),
  };
  log(`ours: fan-out to ${CLIENTS}: pause median ${out.pause.api_call_to_all_clients.median_ms} ms`);
  return out;
}

async function restartAndTime(s) {
  let tAll = null;
  let tFirst = null;
  let stop = false;
  const cookie = s.cookie; // sessions live in SQLite: the old cookie still works after the restart
  const port = s.port;
  const poll = (async () => {
    while (!stop && tAll === null) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/vms`, { headers: { cookie } });
        if (r.status === 200) {
          tFirst ??= now();
          const b = await r.json();
          if (b.vms.filter((v) => v.state === 'running').length === N) tAll = now();
        } else if (r.status === 401) {
          throw new Error('the session did not survive the restart');
        }
      } catch (e) {
        if (/session/.test(e.message)) throw e;
      }
      if (tAll === null) await sleep(5);
    }
  })();
  const st = await s.start({ port });
  const deadline = now() + 60_000;
  while (tAll === null && now() < deadline) await sleep(5);
  stop = true;
  await poll;
  await s.login();
  return {
    reattached: st.reattached,
    found_dead: st.found_dead,
    reattach_ms_logged: st.reattach_ms_logged,
    spawn_to_reattach_logged_ms: Math.round(st.spawn_to_reattach_logged_ms),
    spawn_to_listening_ms: Math.round(st.spawn_to_listening_ms),
    spawn_to_first_api_answer_ms: tFirst === null ? null : Math.round(tFirst - st.tSpawn),
    spawn_to_all_listed_ms: tAll === null ? null : Math.round(tAll - st.tSpawn),
    reattach_line: st.reattach_line?.replace(/^\S+ \S+\s+/, '') ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------
// targets
// ---------------------------------------------------------------------------------------------------
function targets() {
  const O = result.ours;
  const P = result.peers;
  const T = result.targets;
  for (const phase of ['defined', 'running']) {
    const ours = O[phase]?.click_login_to_all_listed?.median_ms ?? null;
    const ck = P.cockpit?.[phase]?.click_login_to_all_listed?.median_ms ?? null;
    const target = ck == null ? null : ck / 3;
    T[`login_to_${N}_listed_${phase}`] = {
      target: '≤ 1/3 of Cockpit\'s time (same run)',
      ours_ms: ours,
      cockpit_ms: ck,
      target_ms: target == null ? null : Math.round(target),
      ours_vs_cockpit: ratio(ours, ck),
      ratio_to_target: ratio(ours, target),
      met: ours != null && target != null ? ours <= target : null,
    };
  }
  // RSS: the mean over the idle window (the max is in ours.*). /proc reports KiB; the target is in
  // MB (10^6 bytes), so 150 MB = 143.05 MiB: compare in MB.
  const MB_PER_MIB = 1.048576;
  const mb = (mib) => (mib == null ? null : Math.round(mib * MB_PER_MIB * 10) / 10);
  const rss = O.idle_50_running_no_browser?.rss_mib_mean ?? null;
  const rssApi = O.api_only_server_idle_50_running?.rss_mib_mean ?? null;
  T.rss_idle_no_browser = {
    target: '≤ 150 MB (= 143.05 MiB)',
    ours_mib: rss,
    ours_mb: mb(rss),
    ours_api_only_mib: rssApi,
    libvirtd_mib: P.libvirt?.idle_50_running?.rss_mib_mean ?? null,
    ratio_to_target: ratio(mb(rss), 150),
    met: rss != null ? mb(rss) <= 150 : null,
  };
  const rssD = O.idle_50_running_one_dashboard?.rss_mib_mean ?? null;
  T.rss_idle_one_dashboard = { target: '≤ 150 MB (= 143.05 MiB)', ours_mib: rssD, ours_mb: mb(rssD), ratio_to_target: ratio(mb(rssD), 150), met: rssD != null ? mb(rssD) <= 150 : null };
  const cpu = O.idle_50_running_no_browser?.cpu_pct_of_one_core ?? null;
  const lcpu = P.libvirt?.idle_50_running?.cpu_pct_of_one_core ?? null;
  T.idle_cpu_no_browser = {
    target: 'no more than libvirtd\'s (same run, same guests)',
    ours_pct_of_core: cpu,
    libvirtd_pct_of_core: lcpu,
    ratio_to_target: ratio(cpu, lcpu),
    met: cpu != null && lcpu != null ? cpu <= lcpu : null,
    resolution_pct: Math.round((1 / 100 / IDLE_S) * 100 * 1000) / 1000,
  };
  const fan = O.fanout?.pause?.api_call_to_all_clients?.median_ms ?? null;
  T.fanout_100_clients = { target: '≤ 50 ms', ours_ms: fan, ours_max_ms: O.fanout?.pause?.api_call_to_all_clients?.max_ms ?? null, ratio_to_target: ratio(fan, 50), met: fan != null ? fan <= 50 : null };
  const re = O.restart?.reattach_ms_logged?.median_ms ?? null;
  T.reattach_50 = {
    target: '≤ 1 s',
    ours_reattach_ms_logged: re,
    ours_spawn_to_all_listed_ms: O.restart?.spawn_to_all_listed_running?.median_ms ?? null,
    ratio_to_target: ratio(re, 1000),
    met: re != null ? re <= 1000 : null,
  };
}

async function main() {
  log(`bench/scale: ${N} VMs, ours vs libvirt + Cockpit; artifacts in ${ART}`);
  if (opt.peers !== 'false') {
    const mark = cleanup.mark();
    try {
      await peers();
    } catch (e) {
      fail('peers', e);
      result.peers.error = String(e?.message ?? e);
    }
    // stop the peers now (not at exit) so they do not load the machine while ours is measured
    cleanup.runSince(mark);
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
