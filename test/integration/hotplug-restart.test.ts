/**
 * Unplugs that outlive the request, and the server: a disk detached while the guest is paused
 * cannot be released (the guest must acknowledge the ACPI eject), so the detach answers
 * unplug-pending after the 5 s timeout, with the config already without the disk. Then kill -9 the
 * server, and:
 *  A. the guest releases the disk while no server runs (resumed over QMP directly): the restarted
 *     server reconciles from QMP (qom-list, query-named-block-nodes) and finishes the unplug —
 *     block nodes deleted, port free, live record and config agree;
 *  B. the guest is still paused when the server comes back: the unplug stays "unplugging" across
 *     the restart and finishes on the DEVICE_DELETED that follows the resume.
 * One guest boot for the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { QmpClient } from '../../server/qemu/qmp/client';
import { sleep, TestServer, testVm } from '../helpers/server';

let s: TestServer;
let vmId: string;

before(async () => {
  s = await new TestServer().start();
});
after(async () => {
  await s?.destroy();
});

const STATE_RE = /GUEST-STATE cpus=\d+ mem_kb=\d+ disks=([a-z0-9,]*) nics=([a-z0-9,]*)/g;

/** The guest's state lines so far, as [disks, nics]. */
async function guestStates(): Promise<{ disks: string[]; nics: string[] }[]> {
  const list = (x: string) => x.split(',').filter(Boolean);
  return [...(await s.serial(vmId)).matchAll(STATE_RE)].map((m) => ({ disks: list(m[1]), nics: list(m[2]) }));
}

function guestDisks(text: string): string[] {
  const all = [...text.matchAll(STATE_RE)];
  return all.length ? all[all.length - 1][1].split(',').filter(Boolean) : [];
}

/**
 * Waits for a state line printed after `seen` lines that satisfies pred. The guest prints only on
 * change, and what it prints while no server reads the serial port is lost (QMP.md pitfall 19), so
 * callers that need a fresh report cause a change first.
 */
async function waitNewState(seen: number, pred: (g: { disks: string[]; nics: string[] }) => boolean, what: string): Promise<void> {
  await waitFor(what, async () => (await guestStates()).slice(seen).some(pred)).catch(async (e) => {
    throw new Error(`${(e as Error).message}; serial tail: ${(await s.serial(vmId)).slice(-600)}`);
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function storedConfig(): any {
  return JSON.parse(fs.readFileSync(path.join(s.dataDir, 'vms', `${vmId}.json`), 'utf8'));
}

/** Attaches a disk, waits for the guest to see it, pauses the VM and detaches it: unplug-pending. */
async function detachWhilePaused(): Promise<string> {
  const seen = (await guestStates()).length;
  const a = await s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 16 });
  assert.equal(a.result, 'live');
  // The guest must have seen the disk before the pause, or it never notices it went away.
  await waitNewState(seen, (g) => g.disks.includes('vdb'), 'vdb');
  assert.equal((await s.ok('POST', `/api/vms/${vmId}/pause`)).state, 'paused');
  const t0 = Date.now();
  const d = await s.ok('DELETE', `/api/vms/${vmId}/disks/${a.device}`);
  assert.equal(d.result, 'unplug-pending', JSON.stringify(d));
  assert.ok(Date.now() - t0 >= 4500, 'waited for the guest first');
  assert.match(d.reason, /release/);
  assert.equal(d.vm.devices[a.device].state, 'unplugging');
  assert.ok(!d.vm.disks.some((x: any) => x.id === a.device), 'the config no longer has it');
  assert.ok(!storedConfig().disks.some((x: any) => x.id === a.device));
  const inv = await s.ok('GET', `/api/vms/${vmId}/devices`);
  assert.ok(inv.peripheral.some((p: any) => p.id === a.device), 'QEMU still has the device');
  assert.deepEqual(inv.unplugs.map((u: any) => u.id), [a.device]);
  // A second detach while one is pending is a clear 409.
  const again = await s.api('DELETE', `/api/vms/${vmId}/disks/${a.device}`);
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'UNPLUG_PENDING');
  return a.device;
}

async function assertFinished(id: string, seen: number, poke: boolean): Promise<void> {
  const inv = await s.ok('GET', `/api/vms/${vmId}/devices`);
  assert.ok(!inv.peripheral.some((p: any) => p.id === id), 'device gone');
  assert.ok(!inv.blockNodes.some((n: any) => n.nodeName.startsWith(`${id}-`)), 'its nodes are deleted');
  assert.ok(!Object.values(inv.ports).includes(id), 'its port is free');
  assert.deepEqual(inv.unplugs, []);
  const vm = await s.ok('GET', `/api/vms/${vmId}`);
  assert.equal(vm.devices[id], undefined);
  assert.deepEqual(vm.pending, [], 'live and config agree');
  assert.ok(!storedConfig().disks.some((x: any) => x.id === id));
  if (poke) {
    // The guest's report of the removal was printed while nobody listened: make it report again.
    const nic = await s.ok('POST', `/api/vms/${vmId}/nics`, {});
    assert.equal(nic.result, 'live');
    await waitNewState(seen, (g) => g.nics.includes('eth0') && !g.disks.includes('vdb'), 'a state with eth0 and without vdb');
    assert.equal((await s.ok('DELETE', `/api/vms/${vmId}/nics/${nic.device}`)).result, 'live');
  } else {
    await waitNewState(seen, (g) => !g.disks.includes('vdb'), 'vdb gone in the guest');
  }
}

test('boot', async () => {
  const vm = await s.ok('POST', '/api/vms', testVm('hp-restart', { machine: 'q35', maxVcpus: 4, maxMemoryMiB: 512, disks: [{ sizeMiB: 32 }], nics: [] }));
  vmId = vm.id;
  await s.ok('POST', `/api/vms/${vmId}/start`);
  await waitFor('the guest', async () => guestDisks(await s.serial(vmId)).includes('vda'), 90_000);
});

test('A: kill -9 during a detach, the guest lets go while the server is down, reconcile finishes it', async () => {
  const id = await detachWhilePaused();
  const seen = (await guestStates()).length;
  await s.kill9();
  // No server: resume the guest over its QMP socket ourselves; it acknowledges the eject now.
  const qmp = await QmpClient.connect(path.join(s.dataDir, 'run', vmId, 'qmp.sock'));
  const deleted = qmp.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === id, 20_000);
  await qmp.execute('cont');
  await deleted;
  const nodes = (await qmp.execute('query-named-block-nodes', { flat: true })).map((n) => n['node-name']);
  assert.ok(nodes.includes(`${id}-fmt`), 'the nodes are still there: nobody has deleted them yet');
  await qmp.close();

  await s.start();
  assert.match(s.output, /reattached 1 running VM/);
  assert.match(s.output, /unplug finished/);
  assert.equal((await s.ok('GET', `/api/vms/${vmId}`)).state, 'running');
  await assertFinished(id, seen, true);
});

test('B: kill -9 during a detach, the guest is still paused at restart; the resume finishes it', async () => {
  const id = await detachWhilePaused();
  const seen = (await guestStates()).length;
  await s.kill9();
  await s.start();
  let vm = await s.ok('GET', `/api/vms/${vmId}`);
  assert.equal(vm.state, 'paused');
  assert.equal(vm.devices[id].state, 'unplugging', 'still unplugging after the restart');
  assert.ok(!vm.disks.some((x: any) => x.id === id));
  await s.ok('POST', `/api/vms/${vmId}/resume`);
  vm = await waitFor('the unplug to finish', async () => {
    const v = await s.ok('GET', `/api/vms/${vmId}`);
    return v.devices[id] === undefined ? v : null;
  });
  await assertFinished(id, seen, false);
  // The freed port and id are usable again.
  const n = (await guestStates()).length;
  const again = await s.ok('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 16 });
  assert.equal(again.result, 'live');
  await waitNewState(n, (g) => g.disks.includes('vdb'), 'vdb again');
});
