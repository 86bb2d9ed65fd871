/**
 * Crash safety: a seeded random mix of 100 operations on up to 5 VMs (create, edit, start,
 * power-off, ACPI shutdown, pause/resume, hotplug of vCPUs, memory, disks and NICs, detach,
 * delete), with the server killed -9 at random points at least 5 times — most of them right after
 * a request was fired, so that it dies in the middle of it. After every restart the invariants are
 * checked:
 * - every config file parses with VmConfigSchema and is named after its id; no *.tmp in vms/;
 * - no VM is lost or duplicated: the ids on disk and in the API are exactly the ones this test
 *   created and did not delete, give or take the requests that were in flight at a kill (tracked as
 *   "maybe": a create in flight may or may not have happened, and is recognised by its name);
 * - every QEMU of this data dir (found in /proc by its -pidfile and -uuid) is reattached: its VM
 *   shows running/paused/shutting-down with that pid; one QEMU per VM at most;
 * - the hardware each running QEMU has (asked over QMP through /devices and /stats) is what the
 *   server says it runs (VmView.live/devices), and every difference from the stored config is
 *   marked pending with a reason;
 * - no orphaned QEMU (one whose uuid has no config; once per run the config of a running VM is
 *   removed while the server is down, as a person might, to prove the server stops it), no run dir
 *   for an unknown VM, no socket/pidfile/live.json of a stopped VM, no temp file anywhere, no
 *   half-created image (.creating, or a .qcow2 without its header), no config naming a missing
 *   volume.
 * The VMs have no boot media and idle in firmware (128 MiB, TCG): disks, NICs, DIMMs and vCPUs
 * hotplug at the QEMU level without a guest; unplugs cannot finish without one, so a detach of a
 * running VM's device answers unplug-pending (VMM_UNPLUG_TIMEOUT_MS=300) and stays "unplugging".
 *
 * Replay a run with CRASH_SEED=<seed> (printed at the start and in every failure).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_STATUS } from '../../lib/errors';
import { VmConfigSchema } from '../../lib/schemas/vm';
import { sleep, TestServer } from '../helpers/server';

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPS = Number(process.env.CRASH_OPS ?? 100);
const MAX_VMS = 5;
const KILLS_MID_REQUEST = Number(process.env.CRASH_KILLS ?? 8);
const KILLS_IDLE = 2;

/** mulberry32: small, seedable, good enough to pick operations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];

interface Known {
  id: string;
  /** Names it may have (a rename in flight at a kill leaves two). */
  names: Set<string>;
  /** A delete was in flight at a kill: it may be gone. */
  maybeGone: boolean;
}

interface Op {
  label: string;
  method: string;
  url: string;
  body?: unknown;
  /** Model update once the outcome is known ('unknown': the server died before answering). */
  settle(outcome: { status: number; body: any } | 'unknown'): void;
}

let s: TestServer;
const known = new Map<string, Known>();
/** Creates in flight at a kill, by name (the id never reached us). */
const maybeCreated = new Set<string>();
const outcomes = new Map<string, number>();
const log: string[] = [];
let nameSeq = 0;
let orphanedOnPurpose = 0;
const restarts: number[] = [];
/** What the restarted servers had to repair, from their logs (shows which paths a run exercised). */
const RECOVERY_LINES: [string, RegExp][] = [
  ['interrupted start finished', /finished starting .* \(the previous server stopped half-way\)/],
  ['hotplug reconciled', /hotplug: reconciled /],
  ['stray QEMU stopped', /it was not attached to any VM/],
  ['QEMU found dead', /[1-9]\d* found dead/],
];
const recoveries = new Map<string, number>();

function note(line: string): void {
  log.push(line);
  if (log.length > 60) log.shift();
}

function fail(msg: string): never {
  throw new Error(`[CRASH_SEED=${SEED}] ${msg}\nlast steps:\n  ${log.join('\n  ')}`);
}

function check(cond: unknown, msg: string): asserts cond {
  if (!cond) fail(msg);
}

/** One API call with a bound, so a wedged server fails the test instead of hanging it. */
async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}${url}`, {
    method,
    headers: { cookie: s.cookie, origin: s.origin, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

async function get(url: string): Promise<any> {
  const r = await call('GET', url);
  check(r.status === 200, `GET ${url} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// ---- the operation mix --------------------------------------------------------------------------

function createOp(): Op {
  const name = `cs${SEED % 1000}-${nameSeq++}`;
  const body = {
    name,
    machine: 'q35',
    memoryMiB: 128,
    maxMemoryMiB: 512,
    vcpus: 1,
    maxVcpus: 3,
    nics: rand() < 0.5 ? [] : [{}],
    disks: rand() < 0.4 ? [{ sizeMiB: 8 }] : [],
  };
  return {
    label: `create ${name}`,
    method: 'POST',
    url: '/api/vms',
    body,
    settle(o) {
      if (o === 'unknown') maybeCreated.add(name);
      else if (o.status === 201) known.set(o.body.id, { id: o.body.id, names: new Set([name]), maybeGone: false });
    },
  };
}

function vmOp(k: Known, vm: any): Op {
  const id = k.id;
  const base = `/api/vms/${id}`;
  const simple = (label: string, method: string, url: string, body?: unknown): Op => ({ label: `${label} ${[...k.names].join('|')}`, method, url, body, settle() {} });
  const state: string = vm.state;
  const r = rand();
  const hotplug = (): Op => {
    const h = rand();
    if (h < 0.2) return simple('vcpus', 'PUT', `${base}/vcpus`, { count: int(1, 3) });
    if (h < 0.4) return simple('memory', 'PUT', `${base}/memory`, { sizeMiB: 128 * int(1, 4) });
    if (h < 0.6) return simple('attach-disk', 'POST', `${base}/disks`, { sizeMiB: 4, bus: rand() < 0.3 ? 'scsi' : 'virtio' });
    if (h < 0.75) return simple('attach-nic', 'POST', `${base}/nics`, {});
    // Detach: mostly NICs and non-boot disks (the boot disk is refused live: BOOT_DISK).
    const devs = [...vm.disks.slice(rand() < 0.85 ? 1 : 0).map((d: any) => `disks/${d.id}`), ...vm.nics.map((n: any) => `nics/${n.id}`)];
    if (devs.length === 0) return simple('attach-nic', 'POST', `${base}/nics`, {});
    return simple('detach', 'DELETE', `${base}/${pick(devs)}`);
  };
  const patch = (): Op => {
    const p = rand();
    if (p < 0.3) {
      const name = `cs${SEED % 1000}-${nameSeq++}`;
      return {
        label: `rename ${[...k.names].join('|')} → ${name}`,
        method: 'PATCH',
        url: base,
        body: { name },
        settle(o) {
          if (o === 'unknown') k.names.add(name);
          else if (o.status === 200) k.names = new Set([name]);
        },
      };
    }
    if (p < 0.55) return simple('patch vcpus', 'PATCH', base, { vcpus: int(1, 3) });
    if (p < 0.8) return simple('patch memory', 'PATCH', base, { memoryMiB: 128 * int(1, 4) });
    return simple('patch boot/video', 'PATCH', base, { bootOrder: rand() < 0.5 ? ['disk', 'cdrom'] : ['cdrom', 'disk'], video: rand() < 0.5 ? 'std' : 'virtio' });
  };
  if (state === 'shutoff' || state === 'crashed') {
    if (r < 0.4) return simple('start', 'POST', `${base}/start`);
    if (r < 0.6) return patch();
    if (r < 0.8) return hotplug();
    return {
      label: `delete ${[...k.names].join('|')}`,
      method: 'DELETE',
      url: `${base}?deleteDisks=${rand() < 0.5}`,
      settle(o) {
        if (o === 'unknown') k.maybeGone = true;
        else if (o.status === 204) known.delete(id);
      },
    };
  }
  if (state === 'paused') {
    if (r < 0.4) return simple('resume', 'POST', `${base}/resume`);
    if (r < 0.65) return simple('poweroff', 'POST', `${base}/poweroff`);
    return hotplug();
  }
  if (state === 'shutting-down') return r < 0.7 ? simple('poweroff', 'POST', `${base}/poweroff`) : hotplug();
  // running
  if (r < 0.16) return simple('poweroff', 'POST', `${base}/poweroff`);
  if (r < 0.21) return simple('shutdown', 'POST', `${base}/shutdown`);
  if (r < 0.28) return simple('pause', 'POST', `${base}/pause`);
  if (r < 0.33) return simple('delete (running)', 'DELETE', base);
  if (r < 0.5) return patch();
  return hotplug();
}

async function nextOp(): Promise<Op> {
  const live = [...known.values()].filter((k) => !k.maybeGone);
  if (live.length === 0 || (live.length < MAX_VMS && rand() < 0.25)) return createOp();
  const k = pick(live);
  return vmOp(k, await get(`/api/vms/${k.id}`));
}

/** 4xx answers the mix may legitimately get (refusals that change nothing); anything 5xx fails. */
const OK_REFUSALS = new Set(['INVALID_STATE', 'VM_RUNNING', 'HOTPLUG_NO_SLOT', 'HOTPLUG_LIMIT', 'UNPLUG_PENDING', 'BOOT_DISK', 'VOLUME_IN_USE', 'HOTPLUG_UNSUPPORTED']);

function record(op: Op, o: { status: number; body: any } | 'unknown'): void {
  const what = o === 'unknown' ? '(killed)' : o.status >= 300 ? `${o.status} ${o.body?.code}` : `${o.status}${o.body?.result ? ` ${o.body.result}` : ''}`;
  const key = `${op.label.split(' ')[0]} → ${what}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  note(`${op.label}: ${o === 'unknown' ? 'no answer (server killed)' : `${o.status} ${o.status >= 300 ? `${o.body?.code} ${o.body?.message}` : (o.body?.result ?? o.body?.state ?? '')}`}`);
  if (o !== 'unknown') {
    check(o.body?.code === undefined || o.body.code in ERROR_STATUS, `${op.label}: unknown error code ${o.body?.code}`);
    check(o.status < 300 || OK_REFUSALS.has(o.body?.code), `${op.label} → ${o.status} ${JSON.stringify(o.body)}`);
  }
  op.settle(o);
}

// ---- kill and restart ---------------------------------------------------------------------------

interface Qemu {
  pid: number;
  uuid: string;
}

/** QEMUs of this data dir, by their command line (-pidfile under our run dir, -uuid). */
function qemus(): Qemu[] {
  const runDir = path.join(s.dataDir, 'run') + '/';
  const out: Qemu[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let args: string[];
    let stat: string;
    try {
      args = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (!/qemu-system-/.test(args[0] ?? '') || /\) [ZX] /.test(stat)) continue;
    const pf = args.indexOf('-pidfile');
    const u = args.indexOf('-uuid');
    if (pf < 0 || u < 0 || !args[pf + 1]?.startsWith(runDir)) continue;
    out.push({ pid: Number(name), uuid: args[u + 1] });
  }
  return out;
}

async function killAndRestart(why: string, inflight: Promise<unknown> | null): Promise<void> {
  await s.kill9();
  note(`--- kill -9 (${why})`);
  if (inflight) await inflight;
  const before = qemus();
  // Once per run, while the server is down: a running VM's config vanishes (deleted by hand).
  // Its QEMU is now an orphan that the next server must stop.
  if (orphanedOnPurpose === 0) {
    const victim = before.find((q) => known.get(q.uuid) && !known.get(q.uuid)!.maybeGone);
    if (victim) {
      fs.rmSync(path.join(s.dataDir, 'vms', `${victim.uuid}.json`));
      known.delete(victim.uuid);
      orphanedOnPurpose = victim.pid;
      note(`removed the config of running VM ${victim.uuid} (QEMU ${victim.pid}) by hand`);
    }
  }
  const t0 = Date.now();
  await s.start();
  restarts.push(Date.now() - t0);
  for (const [what, re] of RECOVERY_LINES) if (re.test(s.output)) recoveries.set(what, (recoveries.get(what) ?? 0) + (s.output.match(new RegExp(re, 'g'))?.length ?? 0));
  note(`--- restarted: ${/reattached .*/.exec(s.output)?.[0] ?? '?'}`);
  await checkInvariants(`after restart (${why})`, before);
}

// ---- invariants ---------------------------------------------------------------------------------

const DISK_TYPES = new Set(['virtio-blk-pci', 'scsi-hd', 'ide-hd']);
const NIC_TYPES = new Set(['virtio-net-pci', 'e1000']);
const RUN_STATES = new Set(['running', 'paused', 'shutting-down']);

function sameSet(a: Iterable<string>, b: Iterable<string>): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return JSON.stringify(x) === JSON.stringify(y);
}

async function checkInvariants(phase: string, qemusAtKill: Qemu[] = []): Promise<void> {
  const where = (m: string) => `${phase}: ${m}`;
  const dataDir = s.dataDir;

  // 1. Config files: each parses, is named after its id; nothing else in vms/.
  const vmsDir = path.join(dataDir, 'vms');
  const onDisk = new Map<string, any>();
  for (const f of fs.readdirSync(vmsDir)) {
    check(!f.endsWith('.tmp'), where(`half-written config ${f} left in vms/`));
    check(f.endsWith('.json'), where(`unexpected file vms/${f}`));
    let parsed;
    try {
      parsed = VmConfigSchema.safeParse(JSON.parse(fs.readFileSync(path.join(vmsDir, f), 'utf8')));
    } catch (e) {
      fail(where(`vms/${f} is not JSON: ${(e as Error).message}`));
    }
    check(parsed.success, where(`vms/${f} does not parse: ${JSON.stringify(parsed.error?.issues)}`));
    check(f === `${parsed.data.id}.json`, where(`vms/${f} holds id ${parsed.data.id}`));
    onDisk.set(parsed.data.id, parsed.data);
  }

  // 2. The API agrees with the files, without problems or duplicates.
  const list = await get('/api/vms');
  check(list.problems.length === 0, where(`store problems: ${JSON.stringify(list.problems)}`));
  const views = new Map<string, any>(list.vms.map((v: any) => [v.id, v]));
  check(views.size === list.vms.length, where('duplicate ids in the list'));
  check(new Set(list.vms.map((v: any) => v.name)).size === list.vms.length, where('duplicate names in the list'));
  check(sameSet(views.keys(), onDisk.keys()), where(`API ids ${[...views.keys()]} ≠ files ${[...onDisk.keys()]}`));

  // 3. No VM lost, none appeared from nowhere (in-flight requests at a kill are "maybe").
  for (const k of known.values()) {
    const v = views.get(k.id);
    if (!v) {
      check(k.maybeGone, where(`VM ${[...k.names]} (${k.id}) is lost`));
      known.delete(k.id);
      continue;
    }
    check(k.names.has(v.name), where(`VM ${k.id} is named "${v.name}", expected one of ${[...k.names]}`));
    k.names = new Set([v.name]);
    k.maybeGone = false;
  }
  for (const v of views.values()) {
    if (known.has(v.id)) continue;
    check(maybeCreated.has(v.name), where(`VM "${v.name}" (${v.id}) exists but was never created`));
    known.set(v.id, { id: v.id, names: new Set([v.name]), maybeGone: false });
    note(`adopted ${v.name}: its create was in flight at the kill and did happen`);
  }
  maybeCreated.clear();

  // 4. Every QEMU of this data dir is reattached; one per VM; none orphaned.
  const running = qemus();
  const byUuid = new Map<string, number[]>();
  for (const q of running) byUuid.set(q.uuid, [...(byUuid.get(q.uuid) ?? []), q.pid]);
  for (const [uuid, pids] of byUuid) {
    check(pids.length === 1, where(`${pids.length} QEMUs (${pids}) for VM ${uuid}`));
    const v = views.get(uuid);
    check(v, where(`orphaned QEMU ${pids[0]}: no config for uuid ${uuid}`));
    check(RUN_STATES.has(v.state) && v.runtime?.pid === pids[0], where(`QEMU ${pids[0]} of "${v.name}" is not reattached: state ${v.state}, runtime pid ${v.runtime?.pid}`));
  }
  for (const v of views.values()) {
    if (v.runtime) check(byUuid.get(v.id)?.[0] === v.runtime.pid, where(`"${v.name}" claims QEMU ${v.runtime.pid}, which is not running`));
    else check(!RUN_STATES.has(v.state), where(`"${v.name}" is ${v.state} without a QEMU`));
  }
  // QEMUs alive at the kill are still there, unless their VM went (the orphan) or the new server
  // stopped a half-started one and says so.
  for (const q of qemusAtKill) {
    const v = views.get(q.uuid);
    if (!v) continue;
    if (byUuid.get(q.uuid)?.[0] === q.pid) continue;
    check(v.state === 'crashed' && /half-started|exited while the server was not running/.test(v.stateReason ?? '') || v.state === 'shutoff',
      where(`QEMU ${q.pid} of "${v.name}" was alive at the kill and is gone: ${v.state} ${v.stateReason}`));
  }
  if (orphanedOnPurpose > 0) check(!running.some((q) => q.pid === orphanedOnPurpose), where(`orphaned QEMU ${orphanedOnPurpose} (its config was removed) is still running`));

  // 5. Run dirs: only for known VMs; nothing of a stopped VM but its log and crash record; no temp files.
  const runDir = path.join(dataDir, 'run');
  for (const d of fs.existsSync(runDir) ? fs.readdirSync(runDir) : []) {
    const v = views.get(d);
    check(v, where(`run/${d} belongs to no VM`));
    const files = fs.readdirSync(path.join(runDir, d));
    for (const f of files) check(!f.endsWith('.tmp'), where(`half-written run/${d}/${f}`));
    if (v.runtime) {
      check(files.includes('qmp.sock') && files.includes('live.json'), where(`running "${v.name}" lacks its socket or live.json: ${files}`));
    } else {
      const stale = files.filter((f) => /\.sock$|^qemu\.pid$|^live\.json$/.test(f));
      check(stale.length === 0, where(`stopped "${v.name}" (${v.state}) still has ${stale.join(', ')}`));
    }
  }

  // 6. The pool: no half-created image; every image has its header; every config's volumes exist.
  const pool = path.join(dataDir, 'pools', 'default');
  const volumes = new Set(fs.readdirSync(pool));
  for (const f of volumes) {
    check(!f.endsWith('.creating') && !f.endsWith('.tmp'), where(`half-created pool/${f}`));
    if (f.endsWith('.qcow2')) {
      const head = Buffer.alloc(4);
      const fd = fs.openSync(path.join(pool, f), 'r');
      fs.readSync(fd, head, 0, 4, 0);
      fs.closeSync(fd);
      check(head.readUInt32BE(0) === 0x514649fb, where(`pool/${f} is not a whole qcow2`));
    }
  }
  const referenced = new Set<string>();
  for (const c of onDisk.values()) {
    for (const d of c.disks) {
      referenced.add(d.volume.replace(/^default\//, ''));
      check(volumes.has(d.volume.replace(/^default\//, '')), where(`"${c.name}" names ${d.volume}, which does not exist`));
    }
  }

  // 7. Live hardware: what QEMU has (over QMP) is what the server says runs, and every difference
  //    from the stored config is marked pending with a reason.
  for (const v of views.values()) {
    if (!v.runtime) continue;
    if (v.state === 'paused' || v.state === 'running' || v.state === 'shutting-down') {
      const inv = await get(`/api/vms/${v.id}/devices`);
      const stats = await get(`/api/vms/${v.id}/stats`);
      const w = (m: string) => where(`"${v.name}": ${m}`);
      const present = new Map<string, string>(inv.peripheral.map((p: any) => [p.id, p.type]));
      const qemuDisks = [...present].filter(([, t]) => DISK_TYPES.has(t)).map(([i]) => i);
      const qemuNics = [...present].filter(([, t]) => NIC_TYPES.has(t)).map(([i]) => i);
      const devs = Object.entries(v.devices ?? {}) as [string, any][];
      const liveOf = (kind: string) => devs.filter(([, d]) => d.kind === kind && !(d.state === 'pending' && d.action === 'add')).map(([i]) => i);
      check(sameSet(qemuDisks, liveOf('disk')), w(`QEMU has disks ${qemuDisks}, the server thinks ${liveOf('disk')}`));
      check(sameSet(qemuNics, liveOf('nic')), w(`QEMU has NICs ${qemuNics}, the server thinks ${liveOf('nic')}`));
      const cpus = inv.cpus.filter((c: any) => c.qomPath).length;
      check(cpus === v.live.vcpus, w(`QEMU has ${cpus} vCPUs, the server thinks ${v.live.vcpus}`));
      const mem = Math.round(stats.memory.baseMiB + stats.memory.pluggedMiB);
      check(mem === v.live.memoryMiB, w(`QEMU has ${mem} MiB, the server thinks ${v.live.memoryMiB}`));
      // Stored vs live: each difference is pending (or an unplug in progress), with a reason.
      for (const d of [...v.disks, ...v.nics]) {
        const st = v.devices[d.id];
        check(st, w(`configured device ${d.id} has no live state`));
        if (!present.has(d.id)) check(st.state === 'pending' && st.action === 'add' && st.reason, w(`${d.id} is configured, not in QEMU, and not pending: ${JSON.stringify(st)}`));
      }
      for (const id of [...qemuDisks, ...qemuNics]) {
        const inConfig = [...v.disks, ...v.nics].some((d: any) => d.id === id);
        if (!inConfig) check(v.devices[id] && v.devices[id].state !== 'live' && v.devices[id].reason, w(`${id} runs but is not configured, and not marked: ${JSON.stringify(v.devices[id])}`));
      }
      if (v.vcpus !== v.live.vcpus) check(v.pending.some((p: any) => p.field === 'vcpus' && p.reason), w(`vcpus ${v.vcpus} stored vs ${v.live.vcpus} live, not pending`));
      if (v.memoryMiB !== v.live.memoryMiB) check(v.pending.some((p: any) => p.field === 'memoryMiB' && p.reason), w(`memory ${v.memoryMiB} stored vs ${v.live.memoryMiB} live, not pending`));
      for (const p of v.pending) check(typeof p.reason === 'string' && p.reason.length > 0, w(`pending ${p.field} without a reason`));
      // QEMU's leftovers: no block node of ours without its disk, no port held for a device QEMU lacks.
      for (const n of inv.blockNodes) {
        const m = /^(.+)-(fmt|file)$/.exec(n.nodeName);
        if (m && !/^cd/.test(m[1])) check(present.has(m[1]), w(`orphan block node ${n.nodeName}`));
      }
      for (const [port, dev] of Object.entries(inv.ports)) if (dev) check(present.has(dev as string), w(`port ${port} held for ${dev}, which QEMU does not have`));
    }
  }
  const leaked = [...volumes].filter((f) => f.endsWith('.qcow2') && !referenced.has(f));
  if (leaked.length) note(`${phase}: ${leaked.length} image(s) no config names (created by a request cut short, or kept on purpose): ${leaked.join(', ')}`);
}

// ---- the run ------------------------------------------------------------------------------------

before(async () => {
  s = await new TestServer({ guest: false, env: { VMM_SHUTDOWN_TIMEOUT: '1', VMM_UNPLUG_TIMEOUT_MS: '300' } }).start();
});
after(async () => {
  await s?.destroy();
});

test(`crash safety: ${OPS} random operations on ${MAX_VMS} VMs, kill -9 of the server ${KILLS_MID_REQUEST + KILLS_IDLE} times, invariants after every restart`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: CRASH_SEED=${SEED} node --import tsx --test test/integration/crash-safety.test.ts)`);
  const t0 = Date.now();
  // Kill points: distinct op indices; the first KILLS_MID_REQUEST of them cut a request short.
  const points: number[] = [];
  while (points.length < KILLS_MID_REQUEST + KILLS_IDLE) {
    const i = int(4, OPS - 2);
    if (!points.includes(i) && !points.includes(i - 1) && !points.includes(i + 1)) points.push(i);
  }
  const midRequest = new Set(points.slice(0, KILLS_MID_REQUEST));
  const idle = new Set(points.slice(KILLS_MID_REQUEST));
  let kills = 0;
  const delays: number[] = [];
  const durations = new Map<string, number[]>();

  const slow = /^(create|start|poweroff|attach|vcpus|memory|patch|detach|delete|rename)/;
  for (let i = 0; i < OPS; i++) {
    let op = await nextOp();
    // At a mid-request kill point, prefer an operation with steps to interrupt (not a pause).
    for (let tries = 0; midRequest.has(i) && !slow.test(op.label) && tries < 3; tries++) op = await nextOp();
    if (midRequest.has(i)) {
      const p = call(op.method, op.url, op.body).then(
        (o) => record(op, o),
        () => record(op, 'unknown'),
      );
      // Most operations take 2-150 ms: short delays land inside them, a few land after.
      const delay = Math.round(pick([1, 2, 4, 8, 15, 30, 60]) * rand());
      delays.push(delay);
      await sleep(delay);
      await killAndRestart(`${delay} ms into "${op.label}"`, p);
      kills++;
      continue;
    }
    const t1 = Date.now();
    record(op, await call(op.method, op.url, op.body).catch((e) => fail(`${op.label}: ${(e as Error).message}\n${s.output.slice(-2000)}`)));
    const kind = op.label.split(' ')[0];
    durations.set(kind, [...(durations.get(kind) ?? []), Date.now() - t1]);
    if (idle.has(i)) {
      await killAndRestart(`between operations, after "${op.label}"`, null);
      kills++;
    }
  }
  await checkInvariants('at the end');

  const secs = Math.round((Date.now() - t0) / 1000);
  t.diagnostic(`${OPS} operations, ${kills} kills (mid-request delays ${delays.join(', ')} ms), ${secs} s; VMs at the end: ${known.size}`);
  t.diagnostic(`outcomes: ${[...outcomes].sort().map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  t.diagnostic(`median ms per request: ${[...durations].sort().map(([k, v]) => `${k} ${v.sort((a, b) => a - b)[Math.floor(v.length / 2)]}`).join(', ')}`);
  t.diagnostic(`restarts: ${restarts.map((r) => `${r} ms`).join(', ')}`);
  t.diagnostic(`repairs seen in the restarted servers' logs: ${[...recoveries].map(([k, n]) => `${k} ×${n}`).join('; ') || 'none'}`);
  assert.ok(kills >= 5);
  assert.ok(orphanedOnPurpose > 0, 'a running VM lost its config while the server was down at least once (orphan check exercised)');
});
