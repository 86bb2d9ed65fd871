/**
 * Hardened QEMU, checked on the real process (one QEMU: no boot media, 128 MiB, a blank 16 MiB disk):
 * started by a root server, it runs as the unprivileged vmm-qemu user under its seccomp sandbox
 * (/proc/<pid>/status: Uid and `Seccomp: 2`), with its run dir 0700 and its disk owned by that user,
 * listens on no TCP socket, and can still do what needs files after the privilege drop (screendump
 * into its run dir, hotplug of a new disk). Also the operator quotas: VMs owned, VMs running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestServer } from '../helpers/server';
import { Client, findAudit, makeUser, type TestUser } from './security-helpers';

const isRoot = process.getuid?.() === 0;
let s: TestServer;
let admin: Client;
let op: TestUser;
let vmId: string;
let pid: number;

function passwdEntry(name: string): { uid: number; gid: number } | null {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

function statusField(p: number, field: string): string {
  const line = fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (line ?? '').slice(field.length + 1).trim();
}

/** Inodes of the TCP sockets (v4 and v6) in this network namespace. */
function tcpInodes(): Set<string> {
  const out = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9) out.add(cols[9]);
    }
  }
  return out;
}

before(async () => {
  if (!isRoot) return;
  s = await new TestServer({ guest: false }).start();
  admin = new Client(s, { cookie: s.cookie }, 'admin');
  op = await makeUser(admin, 'qemu-op', 'operator', { maxVms: 1, maxRunning: 1 });
  const vm = await op.client.ok('POST', '/api/vms', { name: 'hardened', memoryMiB: 128, disks: [{ sizeMiB: 16 }], start: true });
  vmId = vm.id;
  const running = await s.waitState(vmId, 'running');
  pid = running.runtime.pid;
});

after(async () => {
  await s?.destroy();
});

test('a QEMU started by a root server runs as the unprivileged user with seccomp on', { skip: !isRoot && 'the server is not root here' }, () => {
  const user = passwdEntry('vmm-qemu');
  assert.ok(user, 'preflight creates the vmm-qemu user');
  assert.notEqual(user.uid, 0);
  assert.deepEqual(statusField(pid, 'Uid').split(/\s+/).map(Number), [user.uid, user.uid, user.uid, user.uid], 'real, effective, saved and fs uid');
  assert.deepEqual(statusField(pid, 'Gid').split(/\s+/).map(Number), [user.gid, user.gid, user.gid, user.gid]);
  assert.equal(statusField(pid, 'Seccomp'), '2', 'seccomp filter mode');
  assert.equal(statusField(pid, 'NoNewPrivs'), '1');
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const sandbox = argv[argv.indexOf('-sandbox') + 1];
  for (const opt of ['on', 'obsolete=deny', 'elevateprivileges=deny', 'spawn=deny', 'resourcecontrol=deny']) assert.ok(sandbox.split(',').includes(opt), `-sandbox ${sandbox} lacks ${opt}`);
  // Started as the user (never root), so no -runas is needed and set*id stays denied.
  assert.equal(argv.indexOf('-runas'), -1);
});

test('its run dir is 0700 and its own, its disk is the user\'s, and the data dir is closed to others', { skip: !isRoot && 'the server is not root here' }, () => {
  const user = passwdEntry('vmm-qemu')!;
  const runDir = path.join(s.dataDir, 'run', vmId);
  const st = fs.statSync(runDir);
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(st.uid, user.uid);
  const vm = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'vms', `${vmId}.json`), 'utf8'));
  const disk = fs.statSync(path.join(s.dataDir, 'pools', vm.disks[0].volume));
  assert.equal(disk.uid, user.uid);
  assert.equal(disk.mode & 0o777, 0o600);
  for (const d of [s.dataDir, path.join(s.dataDir, 'run'), path.join(s.dataDir, 'pools')]) {
    const ds = fs.statSync(d);
    assert.equal(ds.mode & 0o007, 0, `${d} is open to others (${(ds.mode & 0o777).toString(8)})`);
    assert.equal(ds.gid, user.gid, `${d} group`);
  }
  assert.equal(fs.statSync(path.join(s.dataDir, 'vmm.sqlite')).mode & 0o077, 0, 'the database is private');
});

test('QMP, VNC and serial are unix sockets only: QEMU holds no TCP socket', { skip: !isRoot && 'the server is not root here' }, () => {
  const tcp = tcpInodes();
  const sockets = fs
    .readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  assert.ok(sockets.length >= 3, `QEMU has only ${sockets.length} sockets`);
  assert.deepEqual(sockets.filter((i) => tcp.has(i)), []);
});

test('after the privilege drop QEMU still writes its screendump and opens a hotplugged disk', { skip: !isRoot && 'the server is not root here' }, async () => {
  const shot = await fetch(`${s.url}/api/vms/${vmId}/screenshot`, { headers: op.client.headers() });
  assert.equal(shot.status, 200, await shot.clone().text());
  assert.equal(shot.headers.get('content-type'), 'image/png');
  const r = await op.client.api('POST', `/api/vms/${vmId}/disks`, { sizeMiB: 8 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const added = r.body.vm.disks.find((d: any) => d.id === r.body.device);
  const st = fs.statSync(path.join(s.dataDir, 'pools', added.volume));
  assert.equal(st.uid, passwdEntry('vmm-qemu')!.uid);
  await findAudit(admin, { username: 'qemu-op', vmId }, (e) => e.action === 'POST /api/vms/{id}/disks' && e.ok);
});

test('operator quotas: VMs owned and VMs running', { skip: !isRoot && 'the server is not root here' }, async () => {
  const second = await op.client.api('POST', '/api/vms', { name: 'over-quota', memoryMiB: 128 });
  assert.equal(second.status, 422);
  assert.equal(second.body.code, 'RESOURCE_LIMIT');
  assert.equal(second.body.detail.quota, 'maxVms');
  // An admin's VM granted to the operator does not count as owned, but it would be a second running one.
  const other = await admin.ok('POST', '/api/vms', { name: 'granted', memoryMiB: 128 });
  await admin.ok('POST', `/api/admin/users/${op.id}/grants`, { vmId: other.id });
  const start = await op.client.api('POST', `/api/vms/${other.id}/start`);
  assert.equal(start.status, 422);
  assert.equal(start.body.detail.quota, 'maxRunning');
  const users = (await admin.ok('GET', '/api/admin/users')).users;
  const me = users.find((u: any) => u.username === 'qemu-op');
  assert.deepEqual(me.usage, { vms: 1, running: 1, maxVms: 1, maxRunning: 1 });
  await findAudit(admin, { username: 'qemu-op', vmId: other.id }, (e) => e.action === 'POST /api/vms/{id}/start' && e.code === 'RESOURCE_LIMIT');
  await findAudit(admin, { username: 'qemu-op', vmId }, (e) => e.action === 'POST /api/vms' && e.ok);
});
