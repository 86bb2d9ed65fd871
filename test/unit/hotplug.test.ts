/**
 * Hotplug logic against a fake QMP peer: the order of QMP commands (backends freed only after the
 * device is gone, new CD medium opened before the old one is removed), slot allocation, the vCPU
 * unplug probe and its pending answer, unplug timeouts, reconcile of an interrupted operation, and
 * the per-device view. The real-QEMU behaviour is covered by test/integration/hotplug*.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../lib/errors';
import { VmConfigSchema, type VmConfig } from '../../lib/schemas/vm';
import { buildArgv } from '../../server/qemu/argv';
import type { QmpEvent } from '../../server/qemu/qmp/types';
import type { LiveRecord } from '../../server/vm/runtime';
import { liveHardware } from '../../server/vm/pending';
import { ensureState, type LiveCtx, type QmpLike } from '../../server/vm/hotplug/context';
import { probeCpuUnplug, setVcpusLive } from '../../server/vm/hotplug/cpu';
import { attachDiskLive, detachDiskLive } from '../../server/vm/hotplug/disk';
import { setMemoryLive } from '../../server/vm/hotplug/memory';
import { attachNicLive, detachNicLive } from '../../server/vm/hotplug/nic';
import { setCdromLive } from '../../server/vm/hotplug/cdrom';
import { freePorts, takePort } from '../../server/vm/hotplug/ports';
import { reconcile } from '../../server/vm/hotplug/reconcile';
import { parseOpts, stateFromArgv } from '../../server/vm/hotplug/state';
import { settleUnplugs } from '../../server/vm/hotplug/unplug';
import { deviceStates } from '../../server/vm/hotplug/view';
import { applyPatchLive } from '../../server/vm/hotplug/patch';

const MiB = 1024 * 1024;

function config(extra: Partial<VmConfig> = {}): VmConfig {
  return VmConfigSchema.parse({
    id: '6f1c1f38-7a4c-4c39-9b7a-7f0c2b0a1d11',
    name: 'unit',
    createdAt: '2026-11-24T00:00:00.000Z',
    vcpus: 1,
    maxVcpus: 4,
    memoryMiB: 256,
    maxMemoryMiB: 768,
    disks: [
      { id: 'disk0', volume: 'default/a.qcow2' },
      { id: 'data', volume: 'default/b.qcow2', bus: 'scsi' },
    ],
    nics: [{ id: 'nic0', mac: '52:54:00:00:00:01' }],
    ...extra,
  });
}

const paths = { dir: '/run/x', qmp: '/run/x/qmp.sock', vnc: '/run/x/vnc.sock', serial: '/run/x/serial.sock', pidfile: '/run/x/qemu.pid', log: '/run/x/qemu.log', live: '/run/x/live.json' };

type Handler = (args: any) => unknown;

/** A QMP peer that answers from handlers, records every command, and emits events on demand. */
class FakeQmp implements QmpLike {
  calls: { cmd: string; args: any }[] = [];
  handlers: Record<string, Handler> = {};
  greeting = { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian' }, capabilities: ['oob'] };
  private waiters: { pred: (e: QmpEvent) => boolean; resolve: (e: QmpEvent) => void }[] = [];
  /** Events to emit right after a command returns (simulating the guest). */
  after: Record<string, (args: any) => QmpEvent[]> = {};

  execute = (async (cmd: string, args?: any) => {
    this.calls.push({ cmd, args });
    const h = this.handlers[cmd];
    const ret = h ? h(args) : {};
    const evs = this.after[cmd]?.(args) ?? [];
    setTimeout(() => evs.forEach((e) => this.emit(e)), 5);
    return ret;
  }) as unknown as QmpLike['execute'];

  waitForEvent = ((pred: (e: QmpEvent) => boolean, timeoutMs: number) =>
    new Promise<QmpEvent>((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new ApiError('UNPLUG_TIMEOUT', 'timeout'));
      }, timeoutMs);
    })) as unknown as QmpLike['waitForEvent'];

  emit(e: QmpEvent): void {
    for (const w of [...this.waiters]) {
      if (w.pred(e)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(e);
      }
    }
  }

  cmds(): string[] {
    return this.calls.map((c) => (c.cmd === 'blockdev-del' ? `blockdev-del ${c.args['node-name']}` : c.cmd === 'device_del' || c.cmd === 'netdev_del' ? `${c.cmd} ${c.args.id}` : c.cmd));
  }
}

const ev = (event: string, data: Record<string, unknown>): QmpEvent => ({ event, data, timestamp: { seconds: 0, microseconds: 0 } });

function cpuSlots(present: number, max = 4): any[] {
  return Array.from({ length: max }, (_, i) => ({
    type: 'qemu64-x86_64-cpu',
    'vcpus-count': 1,
    props: { 'core-id': i, 'thread-id': 0, 'socket-id': 0, 'node-id': 0 },
    ...(i < present ? { 'qom-path': i === 0 ? '/machine/unattached/device[0]' : `/machine/peripheral/cpu${i}` } : {}),
  }));
}

function makeCtx(c: VmConfig = config(), qmp = new FakeQmp(), timeoutMs = 200): { ctx: LiveCtx; qmp: FakeQmp; record: LiveRecord; persisted: number[] } {
  const argv = buildArgv(c, { paths, accel: 'tcg', resolveVolume: (r) => `/pool/${r.split('/')[1]}` });
  const record: LiveRecord = { pid: 1, startedAt: '', accel: 'tcg', argv, live: liveHardware(c), pendingReasons: {} };
  const persisted: number[] = [];
  const ctx: LiveCtx = {
    vmId: c.id,
    qmp,
    record,
    state: ensureState(record),
    persist: () => persisted.push(Date.now()),
    resolve: (r) => `/pool/${r.split('/')[1]}`,
    grant: () => {},
    unplugTimeoutMs: timeoutMs,
  };
  return { ctx, qmp, record, persisted };
}

test('parseOpts handles doubled commas', () => {
  assert.deepEqual(parseOpts('virtio-blk-pci,id=d,serial=a,,b,bus=rp17'), { head: 'virtio-blk-pci', props: { id: 'd', serial: 'a,b', bus: 'rp17' } });
});

test('the hotplug state derived from argv: spare ports free, cold devices on theirs, SCSI ids, DIMM slots', () => {
  const { ctx } = makeCtx();
  const st = ctx.state;
  for (let i = 1; i <= 8; i++) assert.equal(st.ports[`rp${i}`], null);
  assert.equal(st.ports.rp9, 'nic0');
  assert.equal(st.ports.rp17, 'disk0');
  assert.deepEqual(st.scsiIds, { data: 0 });
  assert.equal(st.memorySlots, 4);
  assert.equal(st.machine, 'q35');
  const pc = stateFromArgv(buildArgv(config({ machine: 'pc' }), { paths, accel: 'tcg', resolveVolume: (r) => r }), 'pc', null);
  assert.deepEqual(pc.ports, {});
});

test('ports: lowest free first, never twice, HOTPLUG_NO_SLOT when full; pc needs none', () => {
  const { ctx } = makeCtx();
  const got = Array.from({ length: 8 }, (_, i) => takePort(ctx.state, `x${i}`).port);
  assert.deepEqual(got, ['rp1', 'rp2', 'rp3', 'rp4', 'rp5', 'rp6', 'rp7', 'rp8']);
  assert.throws(() => takePort(ctx.state, 'y'), (e: ApiError) => e.code === 'HOTPLUG_NO_SLOT' && e.status === 409);
  const pc = makeCtx(config({ machine: 'pc' }));
  assert.deepEqual(takePort(pc.ctx.state, 'z'), { bus: 'pci.0', port: null });
});

test('vCPU unplug probe: QEMU < 8.0 is unsafe (pitfall 1), 8.0+ safe, env override', () => {
  const q = (major: number, minor: number) => ({ greeting: { version: { qemu: { major, minor, micro: 0 }, package: '' }, capabilities: [] } });
  const p72 = probeCpuUnplug(q(7, 2), '');
  assert.equal(p72.safe, false);
  assert.match(p72.reason, /heap/);
  assert.equal(probeCpuUnplug(q(8, 0), '').safe, true);
  assert.equal(probeCpuUnplug(q(9, 1), '').safe, true);
  assert.equal(probeCpuUnplug({}, '').safe, false, 'unknown version: unsafe');
  assert.equal(probeCpuUnplug(q(7, 2), 'allow').safe, true);
  assert.equal(probeCpuUnplug(q(9, 1), 'deny').safe, false);
});

test('vCPUs up: device_add of the reported type and props, cpuN = core-id N', async () => {
  const { ctx, qmp } = makeCtx();
  qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(1);
  assert.deepEqual(await setVcpusLive(ctx, 3), { result: 'live' });
  const adds = qmp.calls.filter((c) => c.cmd === 'device_add').map((c) => c.args);
  assert.deepEqual(adds, [
    { driver: 'qemu64-x86_64-cpu', id: 'cpu1', 'core-id': 1, 'thread-id': 0, 'socket-id': 0, 'node-id': 0 },
    { driver: 'qemu64-x86_64-cpu', id: 'cpu2', 'core-id': 2, 'thread-id': 0, 'socket-id': 0, 'node-id': 0 },
  ]);
  assert.equal(ctx.record.live.vcpus, 3);
  assert.equal(ctx.state.intent, null);
  await assert.rejects(setVcpusLive(ctx, 5), (e: ApiError) => e.code === 'HOTPLUG_LIMIT' && e.status === 422);
});

test('vCPUs down on QEMU 7.2: pending with the reason, and no device_del is ever sent', async () => {
  const { ctx, qmp } = makeCtx(config({ vcpus: 3 }));
  qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(3);
  const r = await setVcpusLive(ctx, 1);
  assert.equal(r.result, 'pending');
  assert.ok(!qmp.calls.some((c) => c.cmd === 'device_del'));
  assert.equal(ctx.record.live.vcpus, 3);
});

test('vCPUs down on a safe QEMU: device_del highest first, completion by polling; firmware refusal is explained', async () => {
  const { ctx, qmp } = makeCtx(config({ vcpus: 3 }));
  qmp.greeting.version.qemu = { major: 8, minor: 2, micro: 0 };
  let present = 3;
  qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(present);
  qmp.handlers.device_del = () => {
    setTimeout(() => present--, 20);
    return {};
  };
  assert.deepEqual(await setVcpusLive(ctx, 2), { result: 'live' });
  assert.deepEqual(qmp.cmds().filter((c) => c.startsWith('device_del')), ['device_del cpu2']);
  assert.equal(ctx.record.live.vcpus, 2);
  assert.deepEqual(ctx.state.unplugs, {});

  qmp.handlers.device_del = () => {
    throw new ApiError('QEMU_FAILED', 'acpi: device unplug request for not supported device type: qemu64-x86_64-cpu', { class: 'GenericError' });
  };
  await assert.rejects(setVcpusLive(ctx, 1), (e: ApiError) => e.code === 'HOTPLUG_UNSUPPORTED' && /firmware/.test(e.message));
  assert.deepEqual(ctx.state.unplugs, {});
});

test('disk attach: two nodes then device_add on a free root port; rollback on failure frees nodes and port', async () => {
  const { ctx, qmp } = makeCtx();
  const disk = { id: 'new', volume: 'default/n.qcow2', format: 'qcow2' as const, bus: 'virtio' as const, cache: 'writeback' as const, readonly: false };
  assert.deepEqual(await attachDiskLive(ctx, disk), { result: 'live' });
  assert.deepEqual(qmp.cmds(), ['blockdev-add', 'blockdev-add', 'device_add']);
  assert.equal(qmp.calls[0].args['node-name'], 'new-file');
  assert.equal(qmp.calls[1].args.file, 'new-file');
  assert.deepEqual({ driver: qmp.calls[2].args.driver, bus: qmp.calls[2].args.bus, drive: qmp.calls[2].args.drive }, { driver: 'virtio-blk-pci', bus: 'rp1', drive: 'new-fmt' });
  assert.equal(ctx.state.ports.rp1, 'new');

  qmp.calls = [];
  qmp.handlers.device_add = () => {
    throw new ApiError('QEMU_FAILED', 'boom', { class: 'GenericError' });
  };
  await assert.rejects(attachDiskLive(ctx, { ...disk, id: 'bad', volume: 'default/m.qcow2' }));
  assert.deepEqual(qmp.cmds(), ['blockdev-add', 'blockdev-add', 'device_add', 'blockdev-del bad-fmt', 'blockdev-del bad-file']);
  assert.equal(ctx.state.ports.rp2, null, 'the port is free again');
  assert.ok(!ctx.record.live.disks.some((d) => d.id === 'bad'));
  assert.equal(ctx.state.intent, null);
});

test('disk detach: blockdev-del only after DEVICE_DELETED with device = id, top node first', async () => {
  const { ctx, qmp } = makeCtx();
  qmp.after.device_del = (a) => [ev('DEVICE_DELETED', { path: `/machine/peripheral/${a.id}/virtio-backend` }), ev('DEVICE_DELETED', { device: a.id, path: `/machine/peripheral/${a.id}` })];
  const disk = { id: 'extra', volume: 'default/e.qcow2', format: 'qcow2' as const, bus: 'virtio' as const, cache: 'writeback' as const, readonly: false };
  await attachDiskLive(ctx, disk);
  qmp.calls = [];
  assert.deepEqual(await detachDiskLive(ctx, 'extra', true), { result: 'live' });
  assert.deepEqual(qmp.cmds(), ['device_del extra', 'blockdev-del extra-fmt', 'blockdev-del extra-file']);
  assert.ok(!ctx.record.live.disks.some((d) => d.id === 'extra'));
  assert.ok(!Object.values(ctx.state.ports).includes('extra'));
});

test('disk detach: the boot disk is refused (BOOT_DISK) or pending; SATA is pending', async () => {
  const { ctx, qmp } = makeCtx(config({ disks: [{ id: 'disk0', volume: 'default/a.qcow2', format: 'qcow2', bus: 'virtio', cache: 'writeback', readonly: false }, { id: 's', volume: 'default/s.qcow2', format: 'qcow2', bus: 'sata', cache: 'writeback', readonly: false }] }));
  await assert.rejects(detachDiskLive(ctx, 'disk0', true), (e: ApiError) => e.code === 'BOOT_DISK' && e.status === 422);
  assert.equal((await detachDiskLive(ctx, 'disk0', false)).result, 'pending');
  assert.equal((await detachDiskLive(ctx, 's', true)).result, 'pending');
  assert.deepEqual(qmp.calls, []);
});

test('unplug timeout: unplug-pending, nothing freed; a later DEVICE_DELETED re-read finishes it', async () => {
  const { ctx, qmp } = makeCtx(undefined, undefined, 50);
  const disk = { id: 'slow', volume: 'default/s.qcow2', format: 'qcow2' as const, bus: 'virtio' as const, cache: 'writeback' as const, readonly: false };
  await attachDiskLive(ctx, disk);
  qmp.calls = [];
  let present = true;
  qmp.handlers['qom-list'] = () => (present ? [{ name: 'slow', type: 'child<virtio-blk-pci>' }] : []);
  const r = await detachDiskLive(ctx, 'slow', true);
  assert.equal(r.result, 'unplug-pending');
  assert.deepEqual(qmp.cmds(), ['device_del slow']);
  assert.equal(ctx.state.unplugs.slow.kind, 'disk');
  assert.ok(ctx.record.live.disks.some((d) => d.id === 'slow'), 'still live until the guest lets go');
  await assert.rejects(detachDiskLive(ctx, 'slow', true), (e: ApiError) => e.code === 'UNPLUG_PENDING');
  assert.equal(await settleUnplugs(ctx), false, 'still there: nothing to finish');
  present = false;
  assert.equal(await settleUnplugs(ctx), true);
  assert.deepEqual(qmp.cmds().filter((c) => c.startsWith('blockdev-del')), ['blockdev-del slow-fmt', 'blockdev-del slow-file']);
  assert.deepEqual(ctx.state.unplugs, {});
  assert.ok(!ctx.record.live.disks.some((d) => d.id === 'slow'));
});

test('NIC: netdev_add before device_add; on detach netdev_del strictly after DEVICE_DELETED', async () => {
  const { ctx, qmp } = makeCtx();
  await attachNicLive(ctx, { id: 'lan', model: 'e1000', mac: '52:54:00:00:00:02', network: 'user', linkUp: false });
  assert.deepEqual(qmp.cmds(), ['netdev_add', 'device_add', 'set_link']);
  assert.equal(qmp.calls[1].args.driver, 'e1000');
  assert.equal(qmp.calls[1].args.netdev, 'lan-net');
  qmp.calls = [];
  let deletedAt = -1;
  qmp.after.device_del = (a) => [ev('DEVICE_DELETED', { device: a.id })];
  qmp.handlers.netdev_del = () => {
    deletedAt = qmp.calls.length;
    return {};
  };
  assert.deepEqual(await detachNicLive(ctx, 'lan'), { result: 'live' });
  assert.deepEqual(qmp.cmds(), ['device_del lan', 'netdev_del lan-net']);
  assert.equal(deletedAt, 2);
});

test('memory: one DIMM per step of 128 MiB, backend rolled back if the DIMM fails, slots and steps enforced', async () => {
  const { ctx, qmp } = makeCtx();
  qmp.handlers['query-memory-devices'] = () => [];
  assert.deepEqual(await setMemoryLive(ctx, 512), { result: 'live' });
  assert.deepEqual(qmp.calls.filter((c) => c.cmd === 'object-add').map((c) => c.args), [{ 'qom-type': 'memory-backend-ram', id: 'mem-dimm0', size: 256 * MiB }]);
  assert.deepEqual(qmp.calls.filter((c) => c.cmd === 'device_add').map((c) => c.args), [{ driver: 'pc-dimm', id: 'dimm0', memdev: 'mem-dimm0' }]);
  assert.equal(ctx.record.live.memoryMiB, 512);
  await assert.rejects(setMemoryLive(ctx, 600), (e: ApiError) => e.code === 'HOTPLUG_LIMIT');
  await assert.rejects(setMemoryLive(ctx, 1024), (e: ApiError) => e.code === 'HOTPLUG_LIMIT');
  assert.equal((await setMemoryLive(ctx, 256)).result, 'pending');
  qmp.calls = [];
  qmp.handlers.device_add = () => {
    throw new ApiError('QEMU_FAILED', 'nope', { class: 'GenericError' });
  };
  await assert.rejects(setMemoryLive(ctx, 640));
  assert.deepEqual(qmp.cmds().filter((c) => c !== 'query-memory-devices'), ['object-add', 'device_add', 'object-del']);
  assert.equal(ctx.record.live.memoryMiB, 512);
});

test('CD change: the new medium is opened before the old one is removed, and the old node deleted last', async () => {
  const { ctx, qmp } = makeCtx(config({ cdrom: 'default/a.iso' }));
  qmp.handlers['query-block'] = () => [{ device: '', qdev: 'cd0', removable: true, locked: false, tray_open: false, inserted: { file: '/pool/a.iso', 'node-name': 'cd0-media', ro: true, drv: 'raw' } }];
  assert.deepEqual(await setCdromLive(ctx, 'default/b.iso'), { result: 'live' });
  assert.deepEqual(qmp.cmds(), ['query-block', 'blockdev-add', 'blockdev-open-tray', 'blockdev-remove-medium', 'blockdev-insert-medium', 'blockdev-close-tray', 'blockdev-del cd0-media']);
  assert.equal(qmp.calls[1].args['node-name'], 'cd0-media1');
  assert.equal(qmp.calls[2].args.force, true);
  assert.equal(ctx.record.live.cdrom, 'default/b.iso');
  assert.equal(ctx.state.cdromNode, 'cd0-media1');
});

test('reconcile: an attach the server died in is adopted if QEMU has the device, rolled back if not', async () => {
  const c = config();
  for (const present of [true, false]) {
    const { ctx, qmp } = makeCtx(c);
    const disk = { id: 'late', volume: 'default/l.qcow2', format: 'qcow2' as const, bus: 'virtio' as const, cache: 'writeback' as const, readonly: false };
    ctx.state.ports.rp1 = 'late';
    ctx.state.intent = { op: 'attach-disk', disk, port: 'rp1', scsiId: null };
    qmp.handlers['qom-list'] = () => [{ name: 'disk0', type: 'child<virtio-blk-pci>' }, { name: 'nic0', type: 'child<virtio-net-pci>' }, { name: 'data', type: 'child<scsi-hd>' }, ...(present ? [{ name: 'late', type: 'child<virtio-blk-pci>' }] : [])];
    qmp.handlers['query-named-block-nodes'] = () => ['disk0-file', 'disk0-fmt', 'data-file', 'data-fmt', 'late-file', 'late-fmt'].map((n) => ({ 'node-name': n, drv: 'x', file: '', ro: false }));
    qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(1);
    qmp.handlers['query-memory-size-summary'] = () => ({ 'base-memory': 256 * MiB });
    qmp.handlers['query-memory-devices'] = () => [];
    qmp.handlers['query-block'] = () => [];
    const { stored } = await reconcile(ctx, c);
    assert.equal(ctx.state.intent, null);
    if (present) {
      assert.ok(ctx.record.live.disks.some((d) => d.id === 'late'));
      assert.ok(stored.disks.some((d) => d.id === 'late'), 'the config gets what the user asked for');
      assert.equal(ctx.state.ports.rp1, 'late');
      assert.ok(!qmp.cmds().some((x) => x.startsWith('blockdev-del')));
    } else {
      assert.ok(!ctx.record.live.disks.some((d) => d.id === 'late'));
      assert.equal(stored, c, 'config untouched');
      assert.equal(ctx.state.ports.rp1, null);
      assert.deepEqual(qmp.cmds().filter((x) => x.startsWith('blockdev-del')), ['blockdev-del late-fmt', 'blockdev-del late-file']);
    }
  }
});

test('reconcile: an unplug that finished while the server was away frees its backends and leaves the config', async () => {
  const c = config();
  const { ctx, qmp } = makeCtx(c);
  ctx.state.unplugs.nic0 = { kind: 'nic', id: 'nic0', since: '', nodes: [], netdev: 'nic0-net', object: null };
  qmp.handlers['qom-list'] = () => [{ name: 'disk0', type: 'child<virtio-blk-pci>' }, { name: 'data', type: 'child<scsi-hd>' }];
  qmp.handlers['query-named-block-nodes'] = () => [];
  qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(1);
  qmp.handlers['query-memory-size-summary'] = () => ({ 'base-memory': 256 * MiB });
  qmp.handlers['query-memory-devices'] = () => [];
  qmp.handlers['query-block'] = () => [];
  const { stored, fixed } = await reconcile(ctx, c);
  assert.ok(qmp.cmds().includes('netdev_del nic0-net'));
  assert.deepEqual(ctx.state.unplugs, {});
  assert.ok(!ctx.record.live.nics.length);
  assert.ok(!stored.nics.length);
  assert.equal(ctx.state.ports.rp9, null);
  assert.ok(fixed.some((f) => /nic0/.test(f)));
});

test('view: live, pending with action and reason, unplugging', () => {
  const c = config({ vcpus: 2 });
  const { ctx, record } = makeCtx(c);
  record.live.vcpus = 3;
  record.pendingReasons.vcpus = 'heap';
  ctx.state.unplugs.nic0 = { kind: 'nic', id: 'nic0', since: '', nodes: [], netdev: 'nic0-net', object: null };
  const stored = { ...c, disks: [...c.disks, { id: 'more', volume: 'default/m.qcow2', format: 'qcow2' as const, bus: 'sata' as const, cache: 'writeback' as const, readonly: false }], nics: [] };
  ctx.state.reasons.more = 'SATA later';
  const v = deviceStates(stored, record);
  assert.equal(v.disk0.state, 'live');
  assert.deepEqual(v.more, { kind: 'disk', state: 'pending', action: 'add', reason: 'SATA later' });
  assert.equal(v.nic0.state, 'unplugging');
  assert.deepEqual(v.cpu2, { kind: 'cpu', state: 'pending', action: 'remove', reason: 'heap' });
  assert.equal(v.cpu1.state, 'live');
  assert.equal(v.cd0.state, 'live');
});

test('PATCH on a running VM: live where possible, pending with QEMU\'s reason otherwise, never throws', async () => {
  const c = config();
  const { ctx, qmp } = makeCtx(c);
  qmp.handlers['query-hotpluggable-cpus'] = () => cpuSlots(1);
  qmp.handlers['query-memory-devices'] = () => [];
  for (let i = 1; i <= 8; i++) ctx.state.ports[`rp${i}`] = `busy${i}`; // no free port
  const next = { ...c, vcpus: 2, memoryMiB: 384, nics: [...c.nics, { id: 'lan', model: 'virtio' as const, mac: '52:54:00:00:00:03', network: 'user' as const, linkUp: true }] };
  await applyPatchLive(ctx, ['vcpus', 'memoryMiB', 'nics'], next);
  assert.equal(ctx.record.live.vcpus, 2);
  assert.equal(ctx.record.live.memoryMiB, 384);
  assert.ok(!ctx.record.live.nics.some((n) => n.id === 'lan'));
  assert.match(ctx.state.reasons.lan, /root port/);
  assert.match(ctx.record.pendingReasons.nics!, /next boot/);
  assert.equal(freePorts(ctx.state).length, 0);
});
