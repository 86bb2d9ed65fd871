/**
 * The libvirt side of bench/hotplug: ../shared/anchors/libvirt-bench.py on the same test guest ISO,
 * with libvirt brought up (and down again) through the anchors' scripts (bench/lib/anchors.mjs).
 *
 * libvirt-bench.py defines a TCG q35 domain (256 MiB, 1 vCPU of 3, 8 PCIe root ports) from the ISO,
 * and per run: virsh start, wait for GUEST-READY, 0.3 s, `setvcpus 2 --live`, 0.2 s, `qemu-img create`
 * + `attach-disk vdb`, 0.2 s, `detach-disk vdb`, 0.2 s, `attach-device` a user-mode virtio NIC, 0.2 s,
 * `domiflist` + `detach-interface`, 0.2 s, `attach-device` a 128 MiB DIMM, virsh destroy. Each figure
 * runs from just before the virsh process is spawned until its 5 ms poll of the guest's serial log
 * (virtlogd) shows the changed GUEST-STATE line. Each 0.2 s pause starts when the previous timed() call
 * returned: when virsh returned *and* the line was seen. It also runs a few control round trips and
 * one vCPU unplug at the end (QEMU 7.2 fails that one; we do not use it).
 *
 * While it runs we only watch, without touching it:
 * - FileTail stamps every GUEST-* line of its serial log as it is written (1 ms);
 * - execwatch.py stamps every `virsh` / `qemu-img` exec and exit (kernel proc connector).
 * From the two, libvirtSchedule() works out where in the guest's poll cycle libvirt actually issued
 * each change: the time from the guest's previous line to the virsh exec (minus the ~0.6 ms Python
 * takes from its t0 to the exec). Ours then issues its changes at the same points (run.mjs).
 *
 * Leaves the machine as it found it: the domain is destroyed and undefined, its per-domain QEMU log
 * under /var/log/libvirt/qemu is removed if it was not there before (after we copied the QEMU command
 * line out of it), the ANCHOR_STATE dir (ISO copy, disks, serial log) is removed, and libvirt-down.sh
 * stops exactly what libvirt-up.sh started.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ANCHORS, log, sh } from '../lib/common.mjs';
import { PEER_PY, PY, libvirtDown, libvirtUp, peerState, removePeerState } from '../lib/anchors.mjs';
import { FileTail } from './lines.mjs';

export const PEER_DOM = 'anchor-webvmm-hotplug';

/** Our change names → libvirt-bench.py's metric names (`<name>_cmd`, `<name>_visible`). */
export const LIBVIRT_KEYS = { vcpu: 'vcpu_plug', diskAttach: 'disk_attach', diskDetach: 'disk_detach', nicAttach: 'nic_attach', nicDetach: 'nic_detach', dimm: 'dimm_attach' };

/** Runs a command asynchronously, prefixing its stderr lines into ours; resolves { code, stdout, stderr }. */
function run(cmd, args, { env, timeoutMs }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      for (const l of d.split('\n').filter(Boolean)) log(`libvirt-bench.py: ${l}`);
    });
    const timer = setTimeout(() => {
      log(`libvirt-bench.py: no result after ${timeoutMs / 1000} s: killing it (pid ${p.pid})`);
      p.kill('SIGKILL');
    }, timeoutMs);
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/**
 * Brings libvirt up, runs libvirt-bench.py --runs N on `iso`, brings libvirt down (only what this
 * bench started) and returns { up, bench (its JSON), error? }. `cleanup` is a bench/lib Cleanup:
 * every undo step is registered there first, so a failure or Ctrl-C mid-way still undoes it.
 */
export async function libvirtHotplug({ iso, runs, rtt, cleanup }) {
  const mark = cleanup.mark();
  const out = {};
  try {
    const state = peerState('hotplug');
    const qemuLog = `/var/log/libvirt/qemu/${PEER_DOM}.log`;
    const hadQemuLog = fs.existsSync(qemuLog);
    cleanup.add('anchor state dir', () => removePeerState(state));
    cleanup.add('libvirt-down.sh', () => libvirtDown(state));
    const up = libvirtUp(state);
    out.up = up;
    if (!up.ok) throw new Error(`libvirt could not be brought up: ${up.error}`);
    cleanup.add(`destroy+undefine ${PEER_DOM}`, () => {
      const r = sh(PY, [PEER_PY, 'cleanup', '--n', '0', '--dom', PEER_DOM], { timeout: 120_000 });
      if (r.code !== 0) log(`peers: cleanup of ${PEER_DOM} failed: ${r.stderr.trim().slice(-500)}`);
      if (!hadQemuLog) fs.rmSync(qemuLog, { force: true });
    });
    const jsonFile = path.join(state, 'libvirt-bench.json');
    const args = [
      path.join(ANCHORS, 'libvirt-bench.py'), '--iso', iso, '--runs', String(runs), '--rtt', String(rtt),
      '--state', state, '--dom', PEER_DOM, '--ready', 'GUEST-READY', '--state-prefix', 'GUEST-STATE ', '--out', jsonFile,
    ];
    out.command = `${PY} ${args.map((a) => (/[\s]/.test(a) ? `'${a}'` : a)).join(' ')}`;
    // The observers: the serial log's lines as they are written, and virsh/qemu-img execs and exits.
    const tail = new FileTail(path.join(state, `${PEER_DOM}-serial.log`)).start();
    cleanup.add('serial log tail', () => tail.stop());
    const watch = await execWatch(cleanup);
    if (watch.error) log(`peers: execwatch.py: ${watch.error} (libvirt's issue times stay unknown; ours falls back to fixed pauses)`);
    log(`peers: ${out.command}`);
    const t0 = Date.now();
    const r = await run(PY, args, { env: { ...process.env, ANCHOR_STATE: state }, timeoutMs: 20 * 60_000 });
    out.seconds = Math.round((Date.now() - t0) / 1000);
    tail.stop();
    watch.stop();
    if (r.code !== 0) throw new Error(`libvirt-bench.py failed (${r.code}): ${r.stderr.trim().slice(-1500)}`);
    out.bench = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    out.observed = watch.error ? { error: watch.error } : libvirtSchedule(tail.lines, watch.events);
    out.qemuArgv = lastQemuCommandLine(qemuLog);
  } catch (e) {
    out.error = String(e?.message ?? e);
    log(`peers: ERROR ${out.error}`);
  } finally {
    cleanup.runSince(mark); // libvirt is down again before ours is measured
  }
  return out;
}

/** Spawns execwatch.py and collects its events; resolves once it listens (or with { error }). */
function execWatch(cleanup) {
  return new Promise((resolve) => {
    const events = [];
    const p = spawn(PY, [path.join(path.dirname(new URL(import.meta.url).pathname), 'execwatch.py'), 'virsh', 'qemu-img'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    };
    cleanup.add(`execwatch.py (pid ${p.pid})`, stop);
    let buf = '';
    let err = '';
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    p.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (ev.ev === 'ready') done({ events, stop });
        else if (ev.ev === 'error') done({ error: ev.error, events, stop });
        else events.push(ev);
      }
    });
    p.once('exit', (code) => done({ error: `exited (${code}) ${err.trim().slice(-300)}`, events, stop }));
    setTimeout(() => done({ error: 'not listening after 5 s', events, stop }), 5000).unref();
  });
}

/** The QEMU command line libvirt used last, from its per-domain log (one argument per line there). */
function lastQemuCommandLine(file) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const i = text.lastIndexOf('/usr/bin/qemu-system-x86_64 \\\n');
    if (i < 0) return null;
    const block = [];
    for (const l of text.slice(i).split('\n')) {
      block.push(l.replace(/ \\$/, ''));
      if (!l.endsWith(' \\')) break;
    }
    return block.join(' ');
  } catch {
    return null;
  }
}

const eth = (s) => s.nics.some((n) => n.startsWith('eth'));
/** libvirt-bench.py's changes in its order: how to recognise the virsh call and the guest's answer. */
export const LIBVIRT_CHANGES = [
  { kind: 'vcpu', call: (a) => a[a.indexOf('setvcpus') + 2] === '2' && a.includes('setvcpus'), seen: (s) => s.cpus === 2 },
  { kind: 'diskAttach', call: (a) => a.includes('attach-disk'), seen: (s) => s.disks.includes('vdb') },
  { kind: 'diskDetach', call: (a) => a.includes('detach-disk'), seen: (s) => !s.disks.includes('vdb') },
  { kind: 'nicAttach', call: (a) => a.includes('attach-device') && a.some((x) => x.endsWith('/nic.xml')), seen: eth },
  { kind: 'nicDetach', call: (a) => a.includes('detach-interface'), seen: (s) => !eth(s) },
  { kind: 'dimm', call: (a) => a.includes('attach-device') && a.some((x) => x.endsWith('/dimm.xml')), seen: (s, prev) => s.memKb > prev.memKb + 100000 },
];

/** Python's own time from libvirt-bench.py's t0 = now() to the virsh exec (subprocess.run), measured here: 0.5-0.9 ms. */
export const PY_SPAWN_MS = 0.6;

/**
 * Where in the guest's poll cycle libvirt issued each change, run by run, from the serial lines'
 * arrival times and the virsh execs/exits (both CLOCK_MONOTONIC ms):
 *   sinceGuestLineMs   its t0 (exec − PY_SPAWN_MS) − arrival of the guest's previous line
 *   lineAfterExecMs    the changed line's arrival − exec
 *   callMs             virsh exec → exit
 *   exitAfterLineMs    virsh exit − the changed line's arrival (> 0: virsh returned after the guest reported)
 *   inPause            other processes it ran between the previous line and this change (qemu-img, domiflist)
 * Runs are told apart by GUEST-READY (each run boots a fresh domain).
 */
export function libvirtSchedule(lines, events) {
  const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
  const execs = events.filter((e) => e.ev === 'exec');
  const exitOf = new Map(events.filter((e) => e.ev === 'exit').map((e) => [e.pid, e.t]));
  const readyAt = lines.map((l, i) => (l.ready ? i : -1)).filter((i) => i >= 0);
  const runs = [];
  readyAt.forEach((start, n) => {
    const end = n + 1 < readyAt.length ? readyAt[n + 1] : lines.length;
    const runLines = lines.slice(start, end).filter((l) => l.state);
    const tEnd = end < lines.length ? lines[end].t : Infinity;
    const inRun = execs.filter((e) => e.t >= lines[start].t && e.t < tEnd);
    let cursor = lines[start].t;
    const run = {};
    for (const c of LIBVIRT_CHANGES) {
      const ex = inRun.find((e) => e.t >= cursor && e.argv[0].endsWith('virsh') && c.call(e.argv));
      if (!ex) continue;
      cursor = ex.t;
      const prev = [...runLines].reverse().find((l) => l.t <= ex.t);
      const line = prev && runLines.find((l) => l.t > ex.t && c.seen(l.state, prev.state));
      const exit = exitOf.get(ex.pid);
      run[c.kind] = {
        sinceGuestLineMs: prev ? r1(ex.t - PY_SPAWN_MS - prev.t) : null,
        lineAfterExecMs: line ? r1(line.t - ex.t) : null,
        callMs: exit ? r1(exit - ex.t) : null,
        exitAfterLineMs: exit && line ? r1(exit - line.t) : null,
        inPause: prev
          ? inRun.filter((e) => e.t > prev.t && e.t < ex.t).map((e) => ({ cmd: e.argv[0].endsWith('qemu-img') ? `qemu-img ${e.argv[1]}` : `virsh ${e.argv[3]}`, ms: exitOf.has(e.pid) ? r1(exitOf.get(e.pid) - e.t) : null }))
          : [],
      };
    }
    runs.push(run);
  });
  return { runs, execs: execs.length, lines: lines.length };
}
