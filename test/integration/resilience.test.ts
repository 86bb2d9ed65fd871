/**
 * The server owns QEMU processes but does not hold them hostage: kill -9 the server while two VMs
 * run, start it again, and both are still running, reattached (QMP answers through the API) and
 * obey stop. And a QEMU killed with -9 shows up as `crashed` on /ws/events within about a second.
 * The VMs here have no boot media (they idle in firmware): what is tested is the control plane.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestServer } from '../helpers/server';

let s: TestServer;
const ids: string[] = [];

before(async () => {
  s = await new TestServer({ guest: false, env: { VMM_SHUTDOWN_TIMEOUT: '1' } }).start();
  for (const name of ['keep-a', 'keep-b', 'victim']) {
    const vm = await s.ok('POST', '/api/vms', { name, memoryMiB: 128, maxMemoryMiB: 128, nics: [] });
    ids.push(vm.id);
    await s.ok('POST', `/api/vms/${vm.id}/start`);
  }
});
after(async () => {
  await s?.destroy();
});

function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(st);
  } catch {
    return false;
  }
}

test('kill -9 the server: VMs keep running, and a new server reattaches them', async () => {
  const before = await Promise.all(ids.slice(0, 2).map((id) => s.ok('GET', `/api/vms/${id}`)));
  const pids = before.map((v) => v.runtime.pid);
  await s.kill9();
  for (const pid of pids) assert.ok(alive(pid), `QEMU ${pid} survived the server's death`);
  await s.start();
  assert.match(s.output, /reattached 3 running VM/);
  for (const [i, id] of ids.slice(0, 2).entries()) {
    const vm = await s.ok('GET', `/api/vms/${id}`);
    assert.equal(vm.state, 'running');
    assert.equal(vm.runtime.pid, pids[i], 'the same QEMU, not a new one');
  }
  // Reattached means QMP works: pause and resume go through the new connection.
  assert.equal((await s.ok('POST', `/api/vms/${ids[0]}/pause`)).state, 'paused');
  assert.equal((await s.ok('POST', `/api/vms/${ids[0]}/resume`)).state, 'running');
});

test('reattached VMs obey stop', async () => {
  for (const id of ids.slice(0, 2)) {
    const pid = (await s.ok('GET', `/api/vms/${id}`)).runtime.pid;
    const vm = await s.ok('POST', `/api/vms/${id}/poweroff`);
    assert.equal(vm.state, 'shutoff');
    assert.equal(vm.stateReason, null);
    assert.ok(!alive(pid), 'QEMU is gone');
  }
});

test('kill -9 a QEMU: the VM becomes crashed on /ws/events within about a second', async () => {
  const id = ids[2];
  const vm = await s.ok('GET', `/api/vms/${id}`);
  const events = s.events();
  await events.opened;
  const t0 = Date.now();
  process.kill(vm.runtime.pid, 'SIGKILL');
  const msg = await events.waitFor((m) => m.type === 'vm' && m.vm.id === id && m.vm.state === 'crashed', 5000);
  const elapsed = Date.now() - t0;
  events.close();
  assert.ok(elapsed < 1500, `crash surfaced after ${elapsed} ms`);
  assert.match(msg.vm.stateReason, /QEMU exited unexpectedly/);
  // A crashed VM can be started again.
  assert.equal((await s.ok('POST', `/api/vms/${id}/start`)).state, 'running');
  assert.equal((await s.ok('POST', `/api/vms/${id}/poweroff`)).state, 'shutoff');
});

test('a server restart after a QEMU died while it was down reports that VM as crashed', async () => {
  const id = ids[2];
  const vm = await s.ok('POST', `/api/vms/${id}/start`);
  await s.kill9();
  process.kill(vm.runtime.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  await s.start();
  const after = await s.ok('GET', `/api/vms/${id}`);
  assert.equal(after.state, 'crashed');
  assert.match(after.stateReason, /while the server was not running/);
});

test('an ACPI shutdown the guest ignores is reported, and force power-off is offered and works', async () => {
  // No OS is running (the VM sits in firmware), so nothing answers the power button.
  const id = ids[0];
  await s.ok('POST', `/api/vms/${id}/start`);
  const vm = await s.ok('POST', `/api/vms/${id}/shutdown`);
  assert.equal(vm.state, 'shutting-down');
  assert.equal(vm.shutdownIgnored, false);
  const deadline = Date.now() + 10_000;
  let now = vm;
  while (!now.shutdownIgnored && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    now = await s.ok('GET', `/api/vms/${id}`);
  }
  assert.equal(now.shutdownIgnored, true);
  assert.equal(now.state, 'shutting-down');
  assert.match(now.stateReason, /force/);
  const off = await s.ok('POST', `/api/vms/${id}/poweroff`);
  assert.equal(off.state, 'shutoff');
  assert.equal(off.shutdownIgnored, false);
});
