#!/usr/bin/env node
/**
 * Hotplug latency benchmark: how long from a click (the API call) until the GUEST itself reports
 * the change on its serial line (`GUEST-STATE cpus=… mem_kb=… disks=… nics=…`), for a vCPU, a
 * 128 MiB DIMM, a disk (attach and detach) and a NIC (attach and detach) — next to the raw QMP
 * commands doing the same to the same VM in the same run.
 *
 * One q35 test guest (TCG), started through a real server (the integration-test harness). Each of
 * N rounds runs both paths back to back, so drift (the guest gets slower with every vCPU it onlines
 * on 2 host cores) hits both alike:
 *   "api": PUT vcpus / PUT memory / POST+DELETE disks / POST+DELETE nics.
 *          apiMs = the HTTP call; guestMs = call start → the guest's state line.
 *   "qmp": the server is killed (-9; QEMU keeps running), which frees QEMU's single QMP and serial
 *          sockets; the same operations go out as raw QMP (device_add of the slot
 *          query-hotpluggable-cpus reports; object-add + pc-dimm; blockdev-add ×2 + virtio-blk-pci
 *          on a spare root port; netdev_add + virtio-net-pci; device_del + DEVICE_DELETED +
 *          blockdev-del / netdev_del). qmpMs = the command sequence; guestMs = first command → the
 *          guest's state line (serial read straight from QEMU).
 *          Then the server is started again: it reattaches and must reconcile the raw additions
 *          (vCPUs, DIMMs) into its live record, which is checked every round.
 * The guest polls its hardware every 0.3 s, so guest-side figures carry up to ~300 ms of that.
 *
 *   node --import tsx bench/hotplug/run.mjs [--rounds 5] [--out bench/results/hotplug.json]
 *   (npm run bench:hotplug)
 *
 * The libvirt figures in the output are the anchors measured on this machine class
 * (/work/shared/anchors/README.md), not in this run; see the README there to re-run them.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { TestServer, testVm } from '../../test/helpers/server.ts';
import { QmpClient } from '../../server/qemu/qmp/client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const opt = parseArgs(process.argv.slice(2), { rounds: '5', out: 'bench/results/hotplug.json' });
const ROUNDS = Number(opt.rounds);
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function parseArgs(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
  return o;
}

// ---- the guest's own reports -------------------------------------------------------------------

const STATE_RE = /GUEST-STATE cpus=(\d+) mem_kb=(\d+) disks=([a-z0-9,]*) nics=([a-z0-9,]*)/g;
const list = (x) => x.split(',').filter(Boolean);

/** Watches a growing text (a file, or what a socket delivered) for GUEST-STATE lines. */
class GuestWatch {
  constructor(read) {
    this.read = read;
  }
  states() {
    return [...this.read().matchAll(STATE_RE)].map((m) => ({ cpus: +m[1], memKb: +m[2], disks: list(m[3]), nics: list(m[4]) }));
  }
  last() {
    const s = this.states();
    return s[s.length - 1];
  }
  /** Resolves with the time a state line after the first `seen` ones satisfies pred (this.hit = that state). */
  async until(seen, pred, what, timeoutMs = 30_000) {
    const deadline = now() + timeoutMs;
    for (;;) {
      const hit = this.states().slice(seen).find(pred);
      if (hit) {
        this.hit = hit;
        return now();
      }
      if (now() > deadline) throw new Error(`the guest never reported ${what}; last: ${JSON.stringify(this.last())}`);
      await sleep(3);
    }
  }
}

// ---- statistics ----------------------------------------------------------------------------------

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (v) => Math.round(v * 10) / 10;
  return { n: s.length, median: r(s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2), min: r(s[0]), max: r(s[s.length - 1]), p90: r(q(0.9)) };
}

const results = { api: {}, qmp: {} };
function record(phase, kind, key, ms) {
  ((results[phase][kind] ??= {})[key] ??= []).push(Math.round(ms * 10) / 10);
}

// ---- phase 1: through the API ------------------------------------------------------------------

/**
 * `known` is the guest's last reported state: the server's serial log misses what the guest
 * printed while the server was down (the raw phase), so each round starts from what we saw last.
 */
async function apiRound(s, vmId, guest, known) {
  {
    const timed = async (kind, call, pred, what) => {
      const seen = guest.states().length;
      const t0 = now();
      const res = await call();
      const t1 = now();
      if (res.result !== 'live') throw new Error(`${kind}: ${res.result} ${res.reason ?? ''}`);
      const t2 = await guest.until(seen, pred, what);
      known = guest.hit;
      record('api', kind, 'apiMs', t1 - t0);
      record('api', kind, 'guestMs', t2 - t0);
      return res;
    };
    const g = known;
    await timed('vcpu', () => s.ok('PUT', `/api/vms/${vmId}/vcpus`, { count: g.cpus + 1 }), (x) => x.cpus === g.cpus + 1, `cpus=${g.cpus + 1}`);
    const vm = await s.ok('GET', `/api/vms/${vmId}`);
    const memKb = known.memKb;
    await timed('dimm', () => s.ok('PUT', `/api/vms/${vmId}/memory`, { sizeMiB: vm.live.memoryMiB + 128 }), (x) => x.memKb >= memKb + 131072 - 8192, 'more memory');
    const disks = known.disks.length;
    const d = await timed('diskAttach', () => s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 64 }), (x) => x.disks.length === disks + 1, 'a new disk');
    await timed('diskDetach', () => s.ok('DELETE', `/api/vms/${vmId}/disks/${d.device}`), (x) => x.disks.length === disks, 'the disk gone');
    const nics = known.nics.length;
    const n = await timed('nicAttach', () => s.ok('POST', `/api/vms/${vmId}/nics`, {}), (x) => x.nics.length === nics + 1, 'a new NIC');
    await timed('nicDetach', () => s.ok('DELETE', `/api/vms/${vmId}/nics/${n.device}`), (x) => x.nics.length === nics, 'the NIC gone');
  }
  return known;
}

// ---- phase 2: raw QMP on the same VM -------------------------------------------------------------

async function qmpRound(dataDir, vmId, poolDir, known, r) {
  const run = path.join(dataDir, 'run', vmId);
  const qmp = await QmpClient.connect(path.join(run, 'qmp.sock'));
  let text = '';
  const serial = net.createConnection(path.join(run, 'serial.sock'));
  serial.setEncoding('utf8');
  serial.on('data', (c) => (text += c));
  await new Promise((resolve, reject) => serial.once('connect', resolve).once('error', reject));
  const guest = new GuestWatch(() => text);
  const qemuPid = Number(fs.readFileSync(path.join(run, 'qemu.pid'), 'utf8'));
  const [uid, gid] = fs.readFileSync(`/proc/${qemuPid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m).slice(1).concat(fs.readFileSync(`/proc/${qemuPid}/status`, 'utf8').match(/^Gid:\s+(\d+)/m)[1]).map(Number);
  const live = JSON.parse(fs.readFileSync(path.join(run, 'live.json'), 'utf8'));
  const freePorts = Object.entries(live.hotplug?.ports ?? {}).filter(([, d]) => d === null).map(([p]) => p);
  if (freePorts.length < 2) throw new Error('no spare root ports left for the raw phase');
  const [diskPort, nicPort] = freePorts;

  const deleted = (id) => qmp.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === id, 15_000);
  const nicAdd = async (i) => {
    await qmp.execute('netdev_add', { type: 'user', id: `bnic${i}-net` });
    await qmp.execute('device_add', { driver: 'virtio-net-pci', id: `bnic${i}`, netdev: `bnic${i}-net`, mac: `52:54:00:be:00:${(i + 16).toString(16)}`, bus: nicPort });
  };
  const nicDel = async (i) => {
    const gone = deleted(`bnic${i}`);
    await qmp.execute('device_del', { id: `bnic${i}` });
    await gone;
    await qmp.execute('netdev_del', { id: `bnic${i}-net` });
  };

  const timed = async (kind, cmds, pred, what) => {
    const seen = guest.states().length;
    const t0 = now();
    await cmds();
    const t1 = now();
    const t2 = await guest.until(seen, pred, what);
    record('qmp', kind, 'qmpMs', t1 - t0);
    record('qmp', kind, 'guestMs', t2 - t0);
  };
  const last = () => guest.last() ?? known;
  {
    const g = last();
    const slots = await qmp.execute('query-hotpluggable-cpus');
    const free = slots.filter((x) => !x['qom-path']).sort((a, b) => a.props['core-id'] - b.props['core-id'])[0];
    await timed('vcpu', () => qmp.execute('device_add', { driver: free.type, id: `cpu${free.props['core-id']}`, ...free.props }), (x) => x.cpus === g.cpus + 1, `cpus=${g.cpus + 1}`);
    const dimms = (await qmp.execute('query-memory-devices')).map((d) => d.data.id);
    let n = 0;
    while (dimms.includes(`dimm${n}`)) n++;
    const memKb = last().memKb;
    await timed(
      'dimm',
      async () => {
        await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: `mem-dimm${n}`, size: 128 * MiB });
        await qmp.execute('device_add', { driver: 'pc-dimm', id: `dimm${n}`, memdev: `mem-dimm${n}` });
      },
      (x) => x.memKb >= memKb + 131072 - 8192,
      'more memory',
    );
    const file = path.join(poolDir, `bench-raw-${r}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
    fs.chownSync(file, uid, gid);
    const disks = last().disks.length;
    const id = `bdisk${r}`;
    await timed(
      'diskAttach',
      async () => {
        await qmp.execute('blockdev-add', { driver: 'file', 'node-name': `${id}-file`, filename: file, cache: { direct: false, 'no-flush': false } });
        await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': `${id}-fmt`, file: `${id}-file` });
        await qmp.execute('device_add', { driver: 'virtio-blk-pci', id, drive: `${id}-fmt`, bus: diskPort, serial: id });
      },
      (x) => x.disks.length === disks + 1,
      'a new disk',
    );
    await timed(
      'diskDetach',
      async () => {
        const gone = deleted(id);
        await qmp.execute('device_del', { id });
        await gone;
        await qmp.execute('blockdev-del', { 'node-name': `${id}-fmt` });
        await qmp.execute('blockdev-del', { 'node-name': `${id}-file` });
      },
      (x) => x.disks.length === disks,
      'the disk gone',
    );
    fs.rmSync(file, { force: true });
    const nics = last().nics.length;
    await timed('nicAttach', () => nicAdd(r), (x) => x.nics.length === nics + 1, 'a new NIC');
    await timed('nicDetach', () => nicDel(r), (x) => x.nics.length === nics, 'the NIC gone');
  }
  // Control round trip on the raw connection, for scale.
  for (let i = 0; i < 40; i++) {
    const t0 = now();
    await qmp.execute('query-status');
    (results.qmpRoundTrip ??= []).push(now() - t0);
  }
  serial.destroy();
  await qmp.close();
  return last();
}

// ---- main -----------------------------------------------------------------------------------------

const t0 = Date.now();
const s = await new TestServer().start();
let exitCode = 0;
try {
  const maxVcpus = 1 + 2 * ROUNDS;
  const vm = await s.ok('POST', '/api/vms', testVm('bench-hotplug', { machine: 'q35', maxVcpus, memoryMiB: 256, maxMemoryMiB: 256 + 128 * 2 * ROUNDS, disks: [{ sizeMiB: 64 }], nics: [] }));
  const logFile = path.join(s.dataDir, 'logs', `${vm.id}.serial.log`);
  const guest = new GuestWatch(() => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  });
  const tStart = now();
  await s.ok('POST', `/api/vms/${vm.id}/start`);
  await guest.until(0, (x) => x.disks.length === 1, 'boot', 120_000);
  let known = guest.hit;
  results.bootToGuestStateMs = Math.round(now() - tStart);

  results.reconcileAfterRaw = [];
  for (let r = 0; r < ROUNDS; r++) {
    known = await apiRound(s, vm.id, guest, known);
    const before = await s.ok('GET', `/api/vms/${vm.id}`);
    await s.kill9();
    const last = await qmpRound(s.dataDir, vm.id, path.join(s.dataDir, 'pools', 'default'), known, r);
    known = last;
    const t = now();
    await s.start();
    const after = await s.ok('GET', `/api/vms/${vm.id}`);
    results.reconcileAfterRaw.push({
      restartMs: Math.round(now() - t),
      vcpus: { beforeRaw: before.live.vcpus, guest: last.cpus, reconciled: after.live.vcpus },
      memoryMiB: { beforeRaw: before.live.memoryMiB, reconciled: after.live.memoryMiB },
      // The raw additions were not asked of the server, so its config keeps the old values: they
      // show as pending (removed at next boot) — what matters is that live.* matches QEMU.
      agrees: after.live.vcpus === last.cpus && after.live.memoryMiB === before.live.memoryMiB + 128,
      pendingAfter: after.pending.map((p) => p.field),
    });
    process.stderr.write(`bench: round ${r + 1}/${ROUNDS} done\n`);
  }
  await s.ok('POST', `/api/vms/${vm.id}/poweroff`);
} catch (e) {
  console.error(`bench: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  await s.destroy();
}

const out = {
  bench: 'hotplug',
  date: new Date().toISOString(),
  host: { cpus: (await import('node:os')).cpus().length, qemu: execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0], accel: 'tcg' },
  rounds: ROUNDS,
  note: 'guestMs: from the first byte sent (HTTP request or first QMP command) until the guest prints the changed GUEST-STATE line; the guest polls every 0.3 s. apiMs/qmpMs: until the HTTP answer / the last QMP reply.',
  bootToGuestStateMs: results.bootToGuestStateMs,
  api: Object.fromEntries(Object.entries(results.api).map(([k, v]) => [k, { apiMs: summary(v.apiMs), guestMs: summary(v.guestMs), raw: v }])),
  qmp: Object.fromEntries(Object.entries(results.qmp).map(([k, v]) => [k, { qmpMs: summary(v.qmpMs), guestMs: summary(v.guestMs), raw: v }])),
  qmpRoundTripMs: results.qmpRoundTrip ? summary(results.qmpRoundTrip) : null,
  reconcileAfterRaw: results.reconcileAfterRaw,
  anchors: {
    source: '/work/shared/anchors/README.md (libvirt 9.0 + QEMU 7.2, TCG, this machine class; medians of 5; not measured in this run)',
    libvirtGuestMs: { vcpu: 395, diskAttach: 150, diskDetach: 159, nicAttach: 160, dimm: 193 },
    libvirtCallMs: { vcpu: 41 },
  },
  durationS: Math.round((Date.now() - t0) / 1000),
};
fs.mkdirSync(path.dirname(path.resolve(ROOT, opt.out)), { recursive: true });
fs.writeFileSync(path.resolve(ROOT, opt.out), JSON.stringify(out, null, 2) + '\n');

const rows = ['vcpu', 'dimm', 'diskAttach', 'diskDetach', 'nicAttach', 'nicDetach'];
console.log('\nmedian ms      API call  API→guest | raw QMP  QMP→guest | libvirt→guest');
for (const k of rows) {
  const a = out.api[k];
  const q = out.qmp[k];
  const f = (v) => String(v ?? '-').padStart(9);
  console.log(`${k.padEnd(12)} ${f(a?.apiMs.median)} ${f(a?.guestMs.median)}  | ${f(q?.qmpMs.median)} ${f(q?.guestMs.median)}  | ${f(out.anchors.libvirtGuestMs[k])}`);
}
console.log(`\nwrote ${opt.out}`);
process.exit(exitCode);
