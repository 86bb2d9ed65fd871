/**
 * Lifecycle against real QEMU under TCG: create a VM from the test ISO with a new 1 GiB disk,
 * start it and see the guest's own GUEST-READY on serial, pause/resume, and an ACPI shutdown that
 * the guest acts on, ending in shutoff. One guest boot for the whole file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestServer } from '../helpers/server';

let s: TestServer;
let vmId: string;

before(async () => {
  s = await new TestServer().start();
});
after(async () => {
  await s?.destroy();
});

test('create a VM with the test ISO as cdrom and a new 1 GiB disk', async () => {
  const r = await s.api('POST', '/api/vms', { name: 'life-1', memoryMiB: 256, cdrom: 'default/guest.iso', disks: [{ sizeMiB: 1024 }] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  vmId = r.body.id;
  assert.equal(r.body.state, 'shutoff');
  assert.equal(r.body.cdrom, 'default/guest.iso');
  assert.equal(r.body.disks.length, 1);
  assert.deepEqual(r.body.bootOrder, ['cdrom', 'disk']);
  // The disk really exists as a 1 GiB qcow2 in the pool.
  const vols = await s.ok('GET', '/api/pools/default/volumes');
  const disk = vols.volumes.find((v: any) => v.ref === r.body.disks[0].volume);
  assert.ok(disk, 'new disk volume listed');
  assert.equal(disk.format, 'qcow2');
  assert.equal(disk.virtualSizeBytes, 1024 * 1024 * 1024);
  // And the config file is on disk, valid JSON with the same id.
  const file = path.join(s.dataDir, 'vms', `${vmId}.json`);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).id, vmId);
});

test('start: the guest boots from the ISO and prints GUEST-READY on its serial port', async () => {
  const vm = await s.ok('POST', `/api/vms/${vmId}/start`);
  assert.equal(vm.state, 'running');
  assert.ok(vm.runtime.pid > 1);
  assert.ok(vm.runtime.argv.includes('-uuid'));
  await s.waitSerial(vmId, 'GUEST-READY', 90_000);
  const out = await s.waitSerial(vmId, /GUEST-STATE cpus=1 .*disks=/, 10_000);
  assert.match(out, /disks=vda,/, 'the guest sees the new disk');
});

test('starting a running VM is a 409 with a clear message', async () => {
  const r = await s.api('POST', `/api/vms/${vmId}/start`);
  assert.equal(r.status, 409);
  assert.equal(r.body.code, 'INVALID_STATE');
  assert.match(r.body.message, /running/);
});

test('pause gives paused, resume gives running', async () => {
  const paused = await s.ok('POST', `/api/vms/${vmId}/pause`);
  assert.equal(paused.state, 'paused');
  assert.equal((await s.ok('GET', `/api/vms/${vmId}`)).state, 'paused');
  const resumed = await s.ok('POST', `/api/vms/${vmId}/resume`);
  assert.equal(resumed.state, 'running');
});

test('ACPI shutdown: the guest powers itself off and the VM ends in shutoff', async () => {
  const events = s.events();
  await events.opened;
  const vm = await s.ok('POST', `/api/vms/${vmId}/shutdown`);
  assert.equal(vm.state, 'shutting-down');
  await events.waitFor((m) => m.type === 'vm' && m.vm.id === vmId && m.vm.state === 'shutoff', 60_000);
  events.close();
  const after = await s.ok('GET', `/api/vms/${vmId}`);
  assert.equal(after.state, 'shutoff');
  assert.equal(after.runtime, null);
  assert.equal(after.stateReason, null, 'a clean shutdown is not a crash');
  assert.match(await s.serial(vmId), /GUEST-POWEROFF/, 'the guest itself acted on the power button');
});
