/**
 * Users, tokens, grants and quotas on an in-memory database: token roles never exceed the owner's
 * (also after the owner is demoted), VM scope, expiry, revocation and disabling take effect on the
 * next request; grants decide visibility; quotas; who may use which volume; the last admin stays.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { openDb, type Db } from '../../server/store/db';
import { Auth, type User } from '../../server/auth/auth';
import { Access } from '../../server/auth/access';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const C = '33333333-3333-4333-8333-333333333333';

interface FakeVm {
  id: string;
  disks: { volume: string; readonly?: boolean }[];
  cdrom?: string | null;
  kernel?: null;
}
const configs = new Map<string, FakeVm>();
const runtimes = new Map<string, unknown>();
const catalog = { store: { get: (id: string) => configs.get(id), all: () => [...configs.values()] }, runtimes } as never;

let db: Db;
let auth: Auth;
let access: Access;
let now = 1_700_000_000_000;

function bearer(token: string): IncomingMessage {
  return { headers: { authorization: `Bearer ${token}` }, socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage;
}

before(async () => {
  db = openDb(':memory:');
  auth = new Auth(db, () => now);
  access = new Access(db, catalog);
  await auth.ensureAdmin('admin-password-1');
  configs.set(A, { id: A, disks: [{ volume: 'default/a.qcow2' }], cdrom: 'default/shared.iso' });
  configs.set(B, { id: B, disks: [{ volume: 'default/b.qcow2' }] });
  configs.set(C, { id: C, disks: [] });
});

async function user(name: string, role: 'admin' | 'operator' | 'viewer'): Promise<User> {
  const u = await auth.createUser(name, 'a-long-password', role);
  return { id: u.id, username: u.username, role: u.role, accountRole: u.role };
}

test('a token never has more rights than its owner, now or later', async () => {
  const op = await user('tok-op', 'operator');
  assert.throws(() => auth.createToken(op, { name: 'x', role: 'admin' }), /more rights than its owner/);
  const { token: t1 } = auth.createToken(op, { name: 'same' });
  const { token: t2 } = auth.createToken(op, { name: 'lower', role: 'viewer' });
  assert.equal(auth.authenticate(bearer(t1))!.role, 'operator');
  assert.equal(auth.authenticate(bearer(t2))!.role, 'viewer');
  auth.updateUser(op.id, { role: 'viewer' });
  assert.equal(auth.authenticate(bearer(t1))!.role, 'viewer', 'capped by the demoted owner');
  auth.updateUser(op.id, { role: 'operator' });
  assert.equal(auth.authenticate(bearer(t1))!.role, 'operator');
  assert.equal(auth.authenticate(bearer(`${t1}x`)), null);
  assert.equal(auth.authenticate({ headers: { authorization: `Basic ${t1}` }, socket: {} } as unknown as IncomingMessage), null);
});

test('revoked, expired and disabled-owner tokens are refused at once; last use is recorded', async () => {
  const op = await user('tok-op2', 'operator');
  const a = auth.createToken(op, { name: 'a' });
  const b = auth.createToken(op, { name: 'b', expiresInDays: 1 });
  assert.ok(auth.authenticate(bearer(a.token)));
  const rec = auth.getToken(a.record.id)!;
  assert.ok(rec.lastUsedAt);
  assert.equal(rec.lastUsedIp, '10.0.0.9');
  auth.revokeToken(a.record.id);
  assert.equal(auth.authenticate(bearer(a.token)), null);
  assert.ok(auth.authenticate(bearer(b.token)));
  now += 86_400_000;
  assert.equal(auth.authenticate(bearer(b.token)), null, 'expired');
  const c = auth.createToken(op, { name: 'c' });
  auth.updateUser(op.id, { disabled: true });
  assert.equal(auth.authenticate(bearer(c.token)), null, 'owner disabled');
  // Only the hash is stored.
  const row = db.prepare('SELECT token_hash FROM api_tokens WHERE id = ?').get(c.record.id) as { token_hash: string };
  assert.notEqual(row.token_hash, c.token);
  assert.ok(!JSON.stringify(db.prepare('SELECT * FROM api_tokens').all()).includes(c.token.slice(4)));
});

test('disabling a user and resetting a password end their sessions', async () => {
  await user('sess-u', 'viewer');
  const { sessionId } = await auth.login('sess-u', 'a-long-password', '1.2.3.4');
  const u = auth.userForSession(sessionId)!;
  assert.equal(u.username, 'sess-u');
  await auth.resetPassword(u.id, 'another-long-password');
  assert.equal(auth.userForSession(sessionId), null);
  const again = await auth.login('sess-u', 'another-long-password', '1.2.3.4');
  auth.updateUser(u.id, { disabled: true });
  assert.equal(auth.userForSession(again.sessionId), null);
  await assert.rejects(auth.login('sess-u', 'another-long-password', '1.2.3.4'), /disabled/);
});

test('logins are throttled per user name and per IP', async () => {
  await user('brute', 'viewer');
  for (let i = 0; i < 10; i++) await assert.rejects(auth.login('brute', `wrong-${i}`, '5.5.5.5'), /Wrong user name or password/);
  await assert.rejects(auth.login('brute', 'a-long-password', '6.6.6.6'), /Too many login attempts/, 'the user is locked from any IP');
  for (let i = 0; i < 10; i++) await assert.rejects(auth.login(`nobody${i}`, 'x', '7.7.7.7'), /Wrong/);
  await assert.rejects(auth.login('admin', 'admin-password-1', '7.7.7.7'), /Too many login attempts/, 'the IP is locked for any user');
  now += 61_000;
  assert.ok(await auth.login('brute', 'a-long-password', '6.6.6.6'));
});

test('the last enabled admin cannot be disabled or demoted', () => {
  const adminId = auth.listUsers().find((u) => u.username === 'admin')!.id;
  assert.throws(() => auth.updateUser(adminId, { disabled: true }), /no enabled admin/);
  assert.throws(() => auth.updateUser(adminId, { role: 'viewer' }), /no enabled admin/);
  assert.equal(auth.getUser(adminId)!.role, 'admin');
});

test('grants decide which VMs a user sees; admins see all; a scoped token sees one', async () => {
  const op = await user('grant-op', 'operator');
  const adm = await user('second-admin', 'admin');
  assert.equal(access.canSeeVm(op, A), false);
  assert.throws(() => access.requireVm(op, A), /No such VM/);
  access.grant(op.id, A);
  assert.equal(access.canSeeVm(op, A), true);
  assert.equal(access.canSeeVm(op, B), false);
  assert.equal(access.canSeeVm(adm, B), true);
  assert.equal(access.canSeeVm({ ...adm, role: 'viewer' }, B), true, "an admin's viewer token still sees everything (read-only)");
  assert.equal(access.canSeeVm({ ...adm, vmScope: A }, B), false, 'a scoped token sees only its VM, even an admin\'s');
  assert.equal(access.canSeeVm({ ...op, vmScope: B }, B), false, 'the scope does not widen the grants');
  access.revoke(op.id, A);
  assert.equal(access.canSeeVm(op, A), false);
  access.grant(op.id, C);
  access.forgetVm(C);
  assert.equal(access.canSeeVm(op, C), false, 'a deleted VM takes its grants along');
});

test('quotas: owned VMs and running VMs, admins exempt', async () => {
  const op = await user('quota-op', 'operator');
  const q = { maxVms: 1, maxRunning: 1 };
  access.checkCreate(op, q, false);
  access.grant(op.id, A, { owner: true });
  assert.throws(() => access.checkCreate(op, q, false), /quota allows 1 VM/);
  access.grant(op.id, B);
  access.checkStart(op, q, A);
  runtimes.set(A, {});
  assert.throws(() => access.checkStart(op, q, B), /1 running VM/);
  access.checkStart(op, q, A); // restarting the running one does not add one
  assert.deepEqual(access.usage(op.id), { vms: 1, running: 1 });
  const adm = await user('quota-admin', 'admin');
  access.checkCreate(adm, { maxVms: 0, maxRunning: 0 }, true);
  runtimes.delete(A);
});

test('volumes: another tenant\'s disk is off limits, shared ISOs are not, owners may delete theirs', async () => {
  const op = await user('vol-op', 'operator');
  const other = await user('vol-other', 'operator');
  access.grant(op.id, A);
  assert.equal(access.canUseVolume(op, 'default/a.qcow2'), true, 'a disk of a granted VM');
  assert.equal(access.canUseVolume(op, 'default/b.qcow2'), false, 'a writable disk of a VM not granted');
  assert.equal(access.canUseVolume(op, 'default/shared.iso'), true, 'an unowned, read-only shared image');
  access.recordVolumeOwner('default/private.qcow2', other.id);
  assert.equal(access.canUseVolume(op, 'default/private.qcow2'), false, "another user's unattached volume");
  assert.equal(access.canUseVolume(other, 'default/private.qcow2'), true);
  assert.equal(access.volumeOwner('default/private.qcow2'), other.id);
});
