/**
 * Table-driven bad input: each request gets a 4xx with a stable `code`, the server stays up, and
 * no VM config file changes (byte for byte). No QEMU is started here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { TestServer } from '../helpers/server';

let s: TestServer;
let vmId: string;
const base = { name: 'base-vm', memoryMiB: 256, disks: [{ sizeMiB: 16 }] };

before(async () => {
  s = await new TestServer().start();
  vmId = (await s.ok('POST', '/api/vms', base)).id;
  await s.ok('POST', '/api/vms', { name: 'other-vm', memoryMiB: 128 });
});
after(async () => {
  await s?.destroy();
});

function snapshot(): Record<string, string> {
  const dir = path.join(s.dataDir, 'vms');
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

type Case = [label: string, method: string, path: () => string, body: unknown, status: number, code: string];
const vm = () => `/api/vms/${vmId}`;
const CASES: Case[] = [
  ['malformed JSON', 'POST', () => '/api/vms', '{"name": ', 400, 'INVALID_JSON'],
  ['body is an array', 'POST', () => '/api/vms', [], 400, 'VALIDATION_FAILED'],
  ['body is a string', 'POST', () => '/api/vms', '"hello"', 400, 'VALIDATION_FAILED'],
  ['unknown field', 'POST', () => '/api/vms', { name: 'x1', bogus: 1 }, 400, 'VALIDATION_FAILED'],
  ['missing name', 'POST', () => '/api/vms', { memoryMiB: 256 }, 400, 'VALIDATION_FAILED'],
  ['name with a space', 'POST', () => '/api/vms', { name: 'my vm' }, 400, 'VALIDATION_FAILED'],
  ['name with a comma (QEMU option injection)', 'POST', () => '/api/vms', { name: 'a,file=/etc/shadow' }, 400, 'VALIDATION_FAILED'],
  ['name starting with a dash (argv injection)', 'POST', () => '/api/vms', { name: '-daemonize' }, 400, 'VALIDATION_FAILED'],
  ['name too long', 'POST', () => '/api/vms', { name: 'a'.repeat(64) }, 400, 'VALIDATION_FAILED'],
  ['name with a NUL byte', 'POST', () => '/api/vms', { name: 'a\u0000b' }, 400, 'VALIDATION_FAILED'],
  ['name with unicode look-alikes', 'POST', () => '/api/vms', { name: 'vm\u2215etc' }, 400, 'VALIDATION_FAILED'],
  ['duplicate name', 'POST', () => '/api/vms', { name: 'base-vm' }, 409, 'NAME_TAKEN'],
  ['vcpus > maxVcpus', 'POST', () => '/api/vms', { name: 'x2', vcpus: 4, maxVcpus: 2 }, 400, 'VALIDATION_FAILED'],
  ['vcpus zero', 'POST', () => '/api/vms', { name: 'x3', vcpus: 0 }, 400, 'VALIDATION_FAILED'],
  ['vcpus fractional', 'POST', () => '/api/vms', { name: 'x4', vcpus: 1.5 }, 400, 'VALIDATION_FAILED'],
  ['vcpus as a string', 'POST', () => '/api/vms', { name: 'x5', vcpus: '2' }, 400, 'VALIDATION_FAILED'],
  ['memory below the minimum', 'POST', () => '/api/vms', { name: 'x6', memoryMiB: 1 }, 400, 'VALIDATION_FAILED'],
  ['memory beyond the host', 'POST', () => '/api/vms', { name: 'x7', memoryMiB: 1024 * 1024, maxMemoryMiB: 1024 * 1024 }, 422, 'RESOURCE_LIMIT'],
  ['memory > maxMemory', 'POST', () => '/api/vms', { name: 'x8', memoryMiB: 1024, maxMemoryMiB: 512 }, 400, 'VALIDATION_FAILED'],
  ['cdrom escaping the pool', 'POST', () => '/api/vms', { name: 'x9', cdrom: 'default/../../etc/passwd' }, 400, 'VALIDATION_FAILED'],
  ['cdrom absolute path', 'POST', () => '/api/vms', { name: 'x10', cdrom: '/etc/passwd' }, 400, 'VALIDATION_FAILED'],
  ['cdrom in an unknown pool', 'POST', () => '/api/vms', { name: 'x11', cdrom: 'other/guest.iso' }, 404, 'NOT_FOUND'],
  ['cdrom that does not exist', 'POST', () => '/api/vms', { name: 'x12', cdrom: 'default/missing.iso' }, 404, 'VOLUME_NOT_FOUND'],
  ['disk volume escaping the pool', 'POST', () => '/api/vms', { name: 'x13', disks: [{ volume: 'default/..%2f..%2fetc%2fshadow' }] }, 400, 'VALIDATION_FAILED'],
  ['disk with both volume and size', 'POST', () => '/api/vms', { name: 'x14', disks: [{ volume: 'default/a.qcow2', sizeMiB: 5 }] }, 400, 'VALIDATION_FAILED'],
  ['disk of negative size', 'POST', () => '/api/vms', { name: 'x15', disks: [{ sizeMiB: -1 }] }, 400, 'VALIDATION_FAILED'],
  ['another VM\'s disk', 'POST', () => '/api/vms', { name: 'x16', disks: [{ volume: 'default/base-vm-disk0.qcow2' }] }, 409, 'VOLUME_IN_USE'],
  ['kernel cmdline with a newline', 'POST', () => '/api/vms', { name: 'x17', kernel: { kernel: 'default/vmlinuz', cmdline: 'a\nb' } }, 400, 'VALIDATION_FAILED'],
  ['multicast MAC', 'POST', () => '/api/vms', { name: 'x18', nics: [{ mac: '01:00:5e:00:00:01' }] }, 400, 'VALIDATION_FAILED'],
  ['unknown machine type', 'POST', () => '/api/vms', { name: 'x19', machine: 'virt' }, 400, 'VALIDATION_FAILED'],
  ['more SATA disks than a pc VM has slots', 'POST', () => '/api/vms', { name: 'x22', machine: 'pc', disks: [1, 2, 3, 4].map(() => ({ sizeMiB: 1, bus: 'sata' })) }, 422, 'RESOURCE_LIMIT'],
  ['a read-only SATA disk', 'POST', () => '/api/vms', { name: 'x23', disks: [{ volume: 'default/guest.iso', bus: 'sata', readonly: true, format: 'raw' }] }, 400, 'VALIDATION_FAILED'],
  ['a disk id reserved for a built-in device', 'PATCH', vm, { disks: [{ id: 'cd0', volume: 'default/base-vm-disk0.qcow2' }] }, 400, 'VALIDATION_FAILED'],
  ['wrong content type', 'POST', () => '/api/vms', 'name=x20', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['huge body', 'POST', () => '/api/vms', { name: 'x21', pad: 'x'.repeat(400 * 1024) }, 413, 'BODY_TOO_LARGE'],
  ['PATCH: empty body', 'PATCH', vm, {}, 400, 'VALIDATION_FAILED'],
  ['PATCH: rename to a taken name', 'PATCH', vm, { name: 'other-vm' }, 409, 'NAME_TAKEN'],
  ['PATCH: vcpus beyond maxVcpus', 'PATCH', vm, { vcpus: 64, maxVcpus: 2 }, 400, 'VALIDATION_FAILED'],
  ['PATCH: id cannot change', 'PATCH', vm, { id: crypto.randomUUID() }, 400, 'VALIDATION_FAILED'],
  ['PATCH: duplicate device ids', 'PATCH', vm, { disks: [{ id: 'disk0', volume: 'default/base-vm-disk0.qcow2' }, { id: 'disk0', volume: 'default/guest.iso', readonly: true }] }, 400, 'VALIDATION_FAILED'],
  ['PATCH: device id with a comma', 'PATCH', vm, { nics: [{ id: 'n,1', mac: '52:54:00:00:00:01' }] }, 400, 'VALIDATION_FAILED'],
  ['PATCH: memory beyond the host', 'PATCH', vm, { memoryMiB: 1024 * 1024, maxMemoryMiB: 1024 * 1024 }, 422, 'RESOURCE_LIMIT'],
  ['unknown VM', 'GET', () => `/api/vms/${crypto.randomUUID()}`, undefined, 404, 'VM_NOT_FOUND'],
  ['VM id that is not a uuid', 'GET', () => '/api/vms/..%2f..%2fetc', undefined, 400, 'VALIDATION_FAILED'],
  ['unknown lifecycle action', 'POST', () => `${vm()}/explode`, undefined, 400, 'VALIDATION_FAILED'],
  ['pause a stopped VM', 'POST', () => `${vm()}/pause`, undefined, 409, 'INVALID_STATE'],
  ['shutdown a stopped VM', 'POST', () => `${vm()}/shutdown`, undefined, 409, 'INVALID_STATE'],
  ['unsupported method', 'PUT', vm, { name: 'x' }, 405, 'METHOD_NOT_ALLOWED'],
  ['serial tail out of range', 'GET', () => `${vm()}/serial?tail=-5`, undefined, 400, 'VALIDATION_FAILED'],
  ['unknown query parameter on delete', 'DELETE', () => `${vm()}?deleteDisks=yes`, undefined, 400, 'VALIDATION_FAILED'],
  ['volume name with a slash', 'POST', () => '/api/pools/default/volumes', { name: '../x.qcow2', sizeMiB: 1 }, 400, 'VALIDATION_FAILED'],
  ['volume that is not qcow2', 'POST', () => '/api/pools/default/volumes', { name: 'x.raw', sizeMiB: 1 }, 400, 'VALIDATION_FAILED'],
  ['volume that already exists', 'POST', () => '/api/pools/default/volumes', { name: 'base-vm-disk0.qcow2', sizeMiB: 1 }, 409, 'VOLUME_EXISTS'],
  ['unknown pool', 'GET', () => '/api/pools/etc/volumes', undefined, 400, 'VALIDATION_FAILED'],
  ['delete a volume in use', 'DELETE', () => '/api/pools/default/volumes/base-vm-disk0.qcow2', undefined, 409, 'VOLUME_IN_USE'],
  ['delete a volume with a dot-dot name', 'DELETE', () => '/api/pools/default/volumes/x..qcow2', undefined, 400, 'VALIDATION_FAILED'],
  ['login with the wrong body shape', 'POST', () => '/api/auth/login', { user: 'admin' }, 400, 'VALIDATION_FAILED'],
];

test(`${CASES.length} bad inputs each give a 4xx with a code, and nothing changes on disk`, async () => {
  assert.ok(CASES.length >= 30);
  const before = snapshot();
  const volsBefore = fs.readdirSync(path.join(s.dataDir, 'pools', 'default')).sort();
  const failures: string[] = [];
  for (const [label, method, p, body, status, code] of CASES) {
    const raw = typeof body === 'string' && label !== 'body is a string';
    const headers: Record<string, string> = label === 'wrong content type' ? { 'content-type': 'application/x-www-form-urlencoded' } : {};
    const r = await s.api(method, p(), raw ? body : body === undefined ? undefined : JSON.stringify(body), headers);
    const ok = r.status === status && r.body?.code === code && typeof r.body?.message === 'string';
    if (!ok) failures.push(`${label}: got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}, want ${status} ${code}`);
    assert.ok(r.status >= 400 && r.status < 500, `${label} must be a 4xx, got ${r.status}`);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(snapshot(), before, 'no config file changed');
  assert.deepEqual(fs.readdirSync(path.join(s.dataDir, 'pools', 'default')).sort(), volsBefore, 'no volume was created or removed');
  // The server is still up and answering.
  assert.equal((await s.api('GET', '/api/vms')).status, 200);
});
