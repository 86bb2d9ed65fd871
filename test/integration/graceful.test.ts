/**
 * Graceful shutdown: SIGTERM tells /ws/events clients to reconnect (`server-restarting`, close
 * 1012), stops accepting requests, lets in-flight operations finish (bounded by
 * VMM_SHUTDOWN_DRAIN_MS) or answers them 503 SHUTTING_DOWN, leaves every QEMU running (its QMP
 * connection let go, not taken for an exit), and exits 0; the next server reattaches the VMs.
 * The VMs have no boot media (they idle in firmware).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { sleep, TestServer } from '../helpers/server';

let s: TestServer;
const ids: string[] = [];

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

before(async () => {
  s = await new TestServer({ guest: false }).start();
  for (const name of ['calm-a', 'calm-b']) ids.push((await s.ok('POST', '/api/vms', { name, memoryMiB: 128, maxMemoryMiB: 128, nics: [] })).id);
});
after(async () => {
  await s?.destroy();
});

test('SIGTERM: clients are told to reconnect, an in-flight start finishes, the server exits 0, QEMU keeps running, a new server reattaches it', async (t) => {
  const first = await s.ok('POST', `/api/vms/${ids[0]}/start`);
  const pid = first.runtime.pid;
  const events = s.events();
  await events.opened;
  await events.waitFor((m) => m.type === 'hello');
  const closed = new Promise<number>((resolve) => events.ws.once('close', (code) => resolve(code)));

  // A start in flight when the signal arrives (QEMU spawn + QMP handshake take a few hundred ms).
  const inflight = s.api('POST', `/api/vms/${ids[1]}/start`);
  await sleep(40);
  const t0 = Date.now();
  const proc = s.proc!;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');

  const restarting = await events.waitFor((m) => m.type === 'server-restarting', 3000);
  assert.equal(typeof restarting.retryMs, 'number');
  assert.equal(await closed, 1012, 'closed as "service restart"');

  const started = await inflight;
  assert.equal(started.status, 200, `the in-flight start finished: ${JSON.stringify(started.body)}`);
  assert.equal(started.body.state, 'running');
  const pid2 = started.body.runtime.pid;

  await exited;
  const ms = Date.now() - t0;
  t.diagnostic(`SIGTERM → exit in ${ms} ms with one start in flight`);
  assert.deepEqual(s.lastExit, { code: 0, signal: null });
  assert.ok(ms < 10_000, `exited after ${ms} ms`);
  assert.match(s.output, /SIGTERM: in-flight work finished after \d+ ms/);
  s.proc = null;

  // Nothing listens any more, and the QEMUs did not notice.
  await assert.rejects(fetch(`${s.url}/api/host`));
  assert.ok(alive(pid) && alive(pid2), 'both QEMUs still run');

  await s.start();
  assert.match(s.output, /reattached 2 running VM/);
  for (const [id, p] of [[ids[0], pid], [ids[1], pid2]] as const) {
    const vm = await s.ok('GET', `/api/vms/${id}`);
    assert.equal(vm.state, 'running');
    assert.equal(vm.runtime.pid, p, 'the same QEMU');
    assert.equal(vm.stateReason, null, 'not reported as crashed or hung');
  }
  assert.equal((await s.ok('POST', `/api/vms/${ids[0]}/pause`)).state, 'paused');
  assert.equal((await s.ok('POST', `/api/vms/${ids[0]}/resume`)).state, 'running');
});

test('SIGTERM with an operation that outlasts the drain window: it is answered 503 SHUTTING_DOWN, the server still exits 0 in time, and the next server shows where it got to', async (t) => {
  // Another server process on the same data dir, with a 1 s drain window.
  await s.stop('SIGTERM');
  const short = new TestServer({ guest: false, dataDir: s.dataDir, env: { VMM_SHUTDOWN_DRAIN_MS: '1000' } });
  await short.start();
  try {
    const id = ids[0];
    const nic = await short.ok('POST', `/api/vms/${id}/nics`, {});
    assert.equal(nic.result, 'live');
    // No guest OS acknowledges the unplug: the detach waits VMM_UNPLUG_TIMEOUT_MS (5 s).
    const detach = short.api('DELETE', `/api/vms/${id}/nics/${nic.device}`);
    await sleep(300);
    const t0 = Date.now();
    const proc = short.proc!;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const r = await detach;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.code, 'SHUTTING_DOWN');
    assert.match(r.body.message, /may or may not have taken effect/);
    await exited;
    const ms = Date.now() - t0;
    t.diagnostic(`SIGTERM → exit in ${ms} ms with a 5 s detach in flight and a 1 s drain window`);
    assert.deepEqual(short.lastExit, { code: 0, signal: null });
    assert.ok(ms < 3000, `exited after ${ms} ms`);
    assert.match(short.output, /stopped waiting after 1000 ms: 1 request\(s\) still running/);
    short.proc = null;

    await s.start();
    const vm = await s.ok('GET', `/api/vms/${id}`);
    assert.equal(vm.state, 'running');
    // The unplug was recorded before device_del: the new server knows it is still waiting for the guest.
    assert.equal(vm.devices[nic.device]?.state, 'unplugging', JSON.stringify(vm.devices));
    assert.ok(!vm.nics.some((n: any) => n.id === nic.device), 'the config no longer has it');
  } finally {
    await short.stop('SIGKILL');
  }
});
