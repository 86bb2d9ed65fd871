/** Create-request planning: presets, ids, MACs, headroom, and pending diffs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateVmSchema, VmConfigSchema } from '../../lib/schemas/vm';
import { defaultHeadroom, planVm, randomMac } from '../../server/vm/create';
import { liveHardware, pendingChanges } from '../../server/vm/pending';

const opts = { id: '6f1c1f38-7a4c-4c39-9b7a-7f0c2b0a1d11', now: '2026-11-24T00:00:00.000Z', hostCpus: 2, hostMemMiB: 24000, volumeNameFor: (i: number) => `default/t-disk${i}.qcow2`, mac: () => '52:54:00:aa:bb:cc' };

test('linux preset: q35, virtio disk and NIC, boot from cdrom first when there is one', () => {
  const { config, disks } = planVm(CreateVmSchema.parse({ name: 't', cdrom: 'default/x.iso', disks: [{ sizeMiB: 10 }] }), opts);
  assert.equal(config.machine, 'q35');
  assert.equal(config.disks[0].bus, 'virtio');
  assert.equal(config.nics[0].model, 'virtio');
  assert.deepEqual(config.bootOrder, ['cdrom', 'disk']);
  assert.equal(disks[0].createMiB, 10);
  assert.equal(config.disks[0].volume, 'default/t-disk0.qcow2');
  assert.ok(VmConfigSchema.safeParse(config).success);
});

test('windows preset: sata and e1000', () => {
  const { config } = planVm(CreateVmSchema.parse({ name: 'w', osPreset: 'windows', disks: [{ sizeMiB: 10 }] }), opts);
  assert.equal(config.disks[0].bus, 'sata');
  assert.equal(config.nics[0].model, 'e1000');
});

test('headroom defaults to spare vCPUs and DIMM-sized memory', () => {
  const h = defaultHeadroom(1, 512, 2, 24000);
  assert.ok(h.maxVcpus >= 4);
  assert.equal((h.maxMemoryMiB - 512) % 128, 0);
  assert.ok(h.maxMemoryMiB >= 2048);
  assert.ok(defaultHeadroom(1, 512, 2, 600).maxMemoryMiB <= 600, 'never beyond the host');
});

test('random MACs are locally administered QEMU-range unicast', () => {
  assert.match(randomMac(), /^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
});

test('pending lists exactly the fields that differ from the running hardware', () => {
  const { config } = planVm(CreateVmSchema.parse({ name: 'p' }), opts);
  const live = liveHardware(config);
  assert.deepEqual(pendingChanges(config, live), []);
  const edited = { ...config, memoryMiB: 768, video: 'virtio' as const };
  const p = pendingChanges(edited, live);
  assert.deepEqual(p.map((x) => x.field), ['memoryMiB', 'video']);
  assert.match(p[0].reason, /next boot/);
});
