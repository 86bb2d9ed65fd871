/**
 * Hotplug on an i440fx (`pc`) VM, where devices go straight onto pci.0 (ACPI hotplug, no root
 * ports), and the same endpoints on a shut-off VM, where they are plain config changes ("saved")
 * that the next boot picks up. One guest boot for the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer, testVm } from '../helpers/server';
import { waitGuest as waitGuestOf, type GuestState } from '../helpers/guest';

let s: TestServer;
let vmId: string;

before(async () => {
  s = await new TestServer().start();
});
after(async () => {
  await s?.destroy();
});

function waitGuest(pred: (g: GuestState) => boolean, what: string, timeoutMs = 30_000): Promise<GuestState> {
  return waitGuestOf(s, vmId, pred, what, timeoutMs);
}

test('on a shut-off VM every endpoint is a config change: result "saved"', async () => {
  const vm = await s.ok('POST', '/api/vms', testVm('hp-pc', { machine: 'pc', maxVcpus: 3, maxMemoryMiB: 512, disks: [], nics: [] }));
  vmId = vm.id;
  const cpus = await s.ok('PUT', `/api/vms/${vmId}/vcpus`, { count: 2 });
  assert.equal(cpus.result, 'saved');
  assert.equal(cpus.vm.vcpus, 2);
  assert.equal(cpus.vm.devices, undefined, 'no per-device live state while off');
  const disk = await s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 32 });
  assert.equal(disk.result, 'saved');
  assert.equal(disk.device, 'disk0');
  const nic = await s.ok('POST', `/api/vms/${vmId}/nics`, { model: 'virtio' }); // the test guest has no e1000 driver
  assert.equal(nic.result, 'saved');
  const mem = await s.ok('PUT', `/api/vms/${vmId}/memory`, { sizeMiB: 320 });
  assert.equal(mem.result, 'saved');
  assert.equal((await s.api('PUT', `/api/vms/${vmId}/vcpus`, { count: 4 })).body.code, 'HOTPLUG_LIMIT');
  assert.equal((await s.api('GET', `/api/vms/${vmId}/devices`)).body.code, 'VM_NOT_RUNNING');
  // The next boot has all of it.
  await s.ok('POST', `/api/vms/${vmId}/start`);
  await waitGuest((g) => g.cpus === 2 && g.disks.includes('vda') && g.nics.includes('eth0'), 'the saved hardware', 90_000);
  const v = await s.ok('GET', `/api/vms/${vmId}`);
  assert.deepEqual(v.pending, []);
  assert.equal(v.live.freePorts, null, 'pc has no root ports');
});

test('pc: attach a virtio disk and a virtio NIC onto pci.0, then detach both', async () => {
  const d = await s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 32 });
  assert.equal(d.result, 'live', d.reason);
  await waitGuest((g) => g.disks.includes('vdb'), 'vdb');
  const n = await s.ok('POST', `/api/vms/${vmId}/nics`, {});
  assert.equal(n.result, 'live', n.reason);
  await waitGuest((g) => g.nics.includes('eth1'), 'eth1');
  assert.equal((await s.ok('DELETE', `/api/vms/${vmId}/disks/${d.device}`)).result, 'live');
  assert.equal((await s.ok('DELETE', `/api/vms/${vmId}/nics/${n.device}`)).result, 'live');
  await waitGuest((g) => !g.disks.includes('vdb') && !g.nics.includes('eth1'), 'both gone');
  const inv = await s.ok('GET', `/api/vms/${vmId}/devices`);
  assert.ok(!inv.blockNodes.some((x: any) => x.nodeName.startsWith(`${d.device}-`)));
});

test('pc: a vCPU up to maxVcpus live, and a SATA disk attach is pending (IDE cannot hotplug)', async () => {
  const c = await s.ok('PUT', `/api/vms/${vmId}/vcpus`, { count: 3 });
  assert.equal(c.result, 'live');
  await waitGuest((g) => g.cpus === 3, 'cpus=3');
  const sata = await s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 16, bus: 'sata' });
  assert.equal(sata.result, 'pending');
  assert.match(sata.reason, /SATA/);
  assert.equal(sata.vm.devices[sata.device].state, 'pending');
  assert.equal(sata.vm.devices[sata.device].action, 'add');
  // Removing the pending disk again needs nothing live.
  const rm = await s.ok('DELETE', `/api/vms/${vmId}/disks/${sata.device}`);
  assert.equal(rm.result, 'live');
  assert.equal(rm.vm.devices[sata.device], undefined);
  assert.equal((await s.ok('GET', `/api/vms/${vmId}`)).state, 'running');
});
