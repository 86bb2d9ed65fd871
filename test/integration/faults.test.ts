/**
 * QEMU and host faults, each of which must surface within seconds as a clear VM state or an error
 * with a code, while the server and the other VMs stay healthy:
 * - kill -9 of a QEMU: covered in resilience.test.ts ("the VM becomes crashed on /ws/events within
 *   about a second"), not repeated here;
 * - SIGSTOP of a QEMU, so that QMP hangs: the VM is flagged "QEMU is not responding" (by the event
 *   hub's sampler without any request, or by the first command that waits on it), further calls
 *   answer QMP_TIMEOUT at once instead of queueing, another VM's pause/resume still works, SIGCONT
 *   clears the flag, and a force power-off works while it hangs;
 * - a full pool (a 4 MiB tmpfs mounted over pools/default) during qemu-img create: 507
 *   STORAGE_FULL, nothing half-created left behind, a VM with a new disk is not created either;
 * - a disk image deleted (rm) under a running VM: the VM keeps running on its open file, the view
 *   says the image is gone, the pool no longer lists it, and a later start fails with
 *   VOLUME_NOT_FOUND naming it.
 * The VMs have no boot media (they idle in firmware): what is tested is the control plane.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killQemusUnder, TestServer } from '../helpers/server';

let s: TestServer;

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function tinyVm(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, memoryMiB: 128, maxMemoryMiB: 128, nics: [], ...extra };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; r: T }> {
  const t0 = Date.now();
  const r = await fn();
  return { ms: Date.now() - t0, r };
}

before(async () => {
  s = await new TestServer({ guest: false, env: { VMM_SHUTDOWN_TIMEOUT: '5' } }).start();
});
after(async () => {
  await s?.destroy();
});

test('SIGSTOP a QEMU: it is reported as not responding within seconds, calls fail fast with QMP_TIMEOUT, the other VM and the server stay healthy, SIGCONT clears it', async (t) => {
  const a = await s.ok('POST', '/api/vms', tinyVm('hang-a'));
  const b = await s.ok('POST', '/api/vms', tinyVm('hang-b'));
  const pidA = (await s.ok('POST', `/api/vms/${a.id}/start`)).runtime.pid;
  assert.equal((await s.ok('POST', `/api/vms/${b.id}/start`)).state, 'running');

  // 1. Nobody calls anything: a watched dashboard still learns of it (the CPU sampler looks at the process).
  const events = s.events();
  await events.opened;
  const t0 = Date.now();
  let flaggedAt = Infinity;
  process.kill(pidA, 'SIGSTOP');
  try {
    const flagged = await events.waitFor((m) => m.type === 'vm' && m.vm.id === a.id && /not responding/.test(m.vm.stateReason ?? ''), 8000);
    flaggedAt = events.messages.indexOf(flagged);
    const flaggedMs = Date.now() - t0;
    assert.ok(flaggedMs < 5000, `flagged after ${flaggedMs} ms`);
    t.diagnostic(`SIGSTOP → flagged on /ws/events after ${flaggedMs} ms (no request made)`);
    assert.equal(flagged.vm.state, 'running', 'the state stays what QEMU last said; the reason says it hangs');
    assert.match(flagged.vm.stateReason, /force power-off still works/i);

    // 2. Calls to the hung VM answer at once with a code instead of queueing behind it.
    for (const [method, url] of [['POST', `/api/vms/${a.id}/pause`], ['GET', `/api/vms/${a.id}/stats`], ['PUT', `/api/vms/${a.id}/vcpus`]] as const) {
      const { ms, r } = await timed(() => s.api(method, url, method === 'PUT' ? { count: 1 } : undefined));
      assert.equal(r.status, 504, `${method} ${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'QMP_TIMEOUT');
      assert.match(r.body.message, /not responding/);
      assert.ok(ms < 1500, `${method} ${url} answered after ${ms} ms`);
    }

    // 3. Everything else is fine: the server answers, the other VM's QMP queue is its own.
    assert.equal((await s.api('GET', '/api/host')).status, 200);
    const list = await s.ok('GET', '/api/vms');
    assert.deepEqual(list.vms.map((v: any) => v.name).sort(), ['hang-a', 'hang-b']);
    const p = await timed(() => s.ok('POST', `/api/vms/${b.id}/pause`));
    assert.equal(p.r.state, 'paused');
    const r = await timed(() => s.ok('POST', `/api/vms/${b.id}/resume`));
    assert.equal(r.r.state, 'running');
    assert.ok(p.ms < 3000 && r.ms < 3000, `pause ${p.ms} ms, resume ${r.ms} ms on the healthy VM`);
    const diag = await s.ok('GET', '/api/host/diagnostics');
    assert.equal(diag.unresponsive, 1);
  } finally {
    process.kill(pidA, 'SIGCONT');
  }

  // 4. SIGCONT: the next probe gets an answer and the flag goes.
  const cleared = await events.waitFor((m) => events.messages.indexOf(m) > flaggedAt && m.type === 'vm' && m.vm.id === a.id && m.vm.stateReason === null, 8000);
  assert.equal(cleared.vm.state, 'running');
  events.close();
  assert.equal((await s.ok('POST', `/api/vms/${a.id}/pause`)).state, 'paused');
  assert.equal((await s.ok('POST', `/api/vms/${a.id}/resume`)).state, 'running');

  // 5. No one watching this time: the first command that waits on the stopped QEMU finds out.
  process.kill(pidA, 'SIGSTOP');
  try {
    const first = await timed(() => s.api('GET', `/api/vms/${a.id}/stats`));
    assert.equal(first.r.status, 504, JSON.stringify(first.r.body));
    assert.equal(first.r.body.code, 'QMP_TIMEOUT');
    assert.ok(first.ms < 3000, `the first call answered after ${first.ms} ms (the command timeout is 5 s)`);
    t.diagnostic(`SIGSTOP, nobody watching → first QMP call answered 504 QMP_TIMEOUT after ${first.ms} ms`);
    const vm = await s.ok('GET', `/api/vms/${a.id}`);
    assert.match(vm.stateReason, /QEMU is not responding \(its process is stopped/);

    // 6. Force power-off works on a hung QEMU (power cord: SIGKILL), and promptly.
    const off = await timed(() => s.ok('POST', `/api/vms/${a.id}/poweroff`));
    assert.equal(off.r.state, 'shutoff');
    assert.equal(off.r.stateReason, null, 'a power-off we asked for is not a crash');
    assert.ok(off.ms < 4000, `power-off took ${off.ms} ms`);
    t.diagnostic(`force power-off of the stopped QEMU: ${off.ms} ms`);
    assert.ok(!alive(pidA), 'the stopped QEMU is gone');
  } finally {
    try {
      process.kill(pidA, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  assert.equal((await s.ok('GET', `/api/vms/${b.id}`)).state, 'running');
  await s.ok('POST', `/api/vms/${b.id}/poweroff`);
});

test('a disk image deleted under a running VM: it keeps running, the view and the pool say so, and the next start fails with VOLUME_NOT_FOUND naming it', async () => {
  const vm = await s.ok('POST', '/api/vms', tinyVm('lost-disk', { disks: [{ sizeMiB: 16 }] }));
  const ref: string = vm.disks[0].volume;
  const file = path.join(s.dataDir, 'pools', ref);
  assert.ok(fs.existsSync(file));
  const pid = (await s.ok('POST', `/api/vms/${vm.id}/start`)).runtime.pid;

  // Through the API it cannot be deleted while in use...
  const refused = await s.api('DELETE', `/api/pools/default/volumes/${path.basename(file)}`);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.code, 'VOLUME_IN_USE');
  // ...but a person with a shell can.
  fs.rmSync(file);

  const now = await s.ok('GET', `/api/vms/${vm.id}`);
  assert.equal(now.state, 'running');
  assert.equal(now.runtime.pid, pid);
  assert.match(now.stateReason, new RegExp(`"${ref}" was deleted while the VM runs`));
  assert.ok(alive(pid));
  // QEMU still works with its open file: QMP answers, and block I/O state is readable.
  assert.equal((await s.ok('POST', `/api/vms/${vm.id}/pause`)).state, 'paused');
  assert.equal((await s.ok('POST', `/api/vms/${vm.id}/resume`)).state, 'running');
  const inv = await s.ok('GET', `/api/vms/${vm.id}/devices`);
  assert.ok(inv.blockNodes.some((n: any) => n.file === file), 'QEMU still has the node on the deleted file');
  const vols = await s.ok('GET', '/api/pools/default/volumes');
  assert.ok(!vols.volumes.some((v: any) => v.ref === ref), 'the pool no longer lists it');

  assert.equal((await s.ok('POST', `/api/vms/${vm.id}/poweroff`)).state, 'shutoff');
  const start = await s.api('POST', `/api/vms/${vm.id}/start`);
  assert.equal(start.status, 404);
  assert.equal(start.body.code, 'VOLUME_NOT_FOUND');
  assert.ok(start.body.message.includes(ref), start.body.message);
  const after = await s.ok('GET', `/api/vms/${vm.id}`);
  assert.equal(after.state, 'shutoff');
  assert.equal((await s.api('GET', '/api/host')).status, 200);
});

test('a full pool during qemu-img create: 507 STORAGE_FULL with a clear message, nothing half-created, the server stays up', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-it-full-'));
  const pool = path.join(dataDir, 'pools', 'default');
  fs.mkdirSync(pool, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', pool], { stdio: 'pipe' });
  } catch (e) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); the full-pool case needs root`);
    return;
  }
  const f = new TestServer({ guest: false, dataDir });
  try {
    await f.start();
    // qcow2 is sparse: a 100 MiB volume takes a few hundred KiB of the 4 MiB.
    const big = await f.api('POST', '/api/pools/default/volumes', { name: 'sparse.qcow2', sizeMiB: 100 });
    assert.equal(big.status, 201, JSON.stringify(big.body));

    // Fill what is left, the way a guest writing its disk or a copied ISO would.
    const fd = fs.openSync(path.join(pool, 'filler.raw'), 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      fs.closeSync(fd);
    }

    const t0 = Date.now();
    const full = await f.api('POST', '/api/pools/default/volumes', { name: 'nofit.qcow2', sizeMiB: 100 });
    assert.equal(full.status, 507, JSON.stringify(full.body));
    assert.equal(full.body.code, 'STORAGE_FULL');
    assert.match(full.body.message, /Pool "default" is full: there is no room for "nofit\.qcow2" \(\d+ MiB free of \d+ MiB\)/);
    assert.ok(Date.now() - t0 < 5000);

    // A VM whose new disk does not fit is not created at all.
    const vm = await f.api('POST', '/api/vms', tinyVm('nofit-vm', { disks: [{ sizeMiB: 64 }] }));
    assert.equal(vm.status, 507, JSON.stringify(vm.body));
    assert.equal(vm.body.code, 'STORAGE_FULL');
    assert.deepEqual((await f.ok('GET', '/api/vms')).vms, []);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'vms')).filter((n) => n.endsWith('.json') || n.endsWith('.tmp')), []);

    // Nothing half-written: no temp files, no partial images.
    const left = fs.readdirSync(pool).sort();
    assert.deepEqual(left, ['filler.raw', 'sparse.qcow2'], `pool holds ${left.join(', ')}`);
    assert.equal((await f.api('GET', '/api/host')).status, 200);
    const names = (await f.ok('GET', '/api/pools/default/volumes')).volumes.map((v: any) => v.name);
    assert.deepEqual(names.sort(), ['filler.raw', 'sparse.qcow2']);

    // Space freed: the same request works.
    fs.rmSync(path.join(pool, 'filler.raw'));
    assert.equal((await f.api('POST', '/api/pools/default/volumes', { name: 'nofit.qcow2', sizeMiB: 100 })).status, 201);
  } finally {
    await f.stop('SIGKILL');
    killQemusUnder(dataDir);
    try {
      execFileSync('umount', ['-l', pool], { stdio: 'pipe' });
    } catch {
      /* already gone */
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
