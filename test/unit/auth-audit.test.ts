/**
 * The audit log: append-only in the database itself, secrets redacted, parameters bounded, and
 * the filters the admin page uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../server/store/db';
import { AuditLog, recordCall, redact } from '../../server/audit/audit';
import { AuditQuerySchema } from '../../lib/schemas/admin';

const q = (x: Record<string, unknown> = {}) => AuditQuerySchema.parse(x);

test('the table refuses UPDATE and DELETE', () => {
  const db = openDb(':memory:');
  const log = new AuditLog(db);
  log.record({ userId: 1, username: 'admin', ip: '127.0.0.1', action: 'POST /api/vms', status: 201 });
  assert.throws(() => db.prepare("UPDATE audit_log SET username = 'nobody'").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
  assert.equal(log.query(q()).entries[0].username, 'admin');
});

test('secrets are redacted and hostile parameters bounded', () => {
  const r = redact({ username: 'u', password: 'hunter2', nested: { currentPassword: 'x', newPassword: 'y', token: 'vmm_abc', ticket: 't' }, big: 'x'.repeat(100_000), list: Array.from({ length: 100 }, (_, i) => i) }) as any;
  assert.equal(r.password, '[redacted]');
  assert.equal(r.nested.currentPassword, '[redacted]');
  assert.equal(r.nested.newPassword, '[redacted]');
  assert.equal(r.nested.token, '[redacted]');
  assert.equal(r.nested.ticket, '[redacted]');
  assert.equal(r.username, 'u');
  assert.ok(r.big.length < 300);
  assert.equal(r.list.length, 21);
  let deep: unknown = 'bottom';
  for (let i = 0; i < 10_000; i++) deep = [deep];
  assert.ok(JSON.stringify(redact(deep)).length < 100);
  const db = openDb(':memory:');
  const log = new AuditLog(db);
  recordCall(
    log,
    { method: 'POST', route: '/api/auth/login', user: null, ip: '9.9.9.9', params: {}, query: {}, body: { username: 'mallory', password: 'guess' }, status: 401, code: 'BAD_CREDENTIALS', note: {} },
    () => null,
  );
  const e = log.query(q()).entries[0];
  assert.equal(e.username, 'mallory');
  assert.equal(e.ok, false);
  assert.equal(e.code, 'BAD_CREDENTIALS');
  assert.equal((e.params as any).body.password, '[redacted]');
  assert.ok(!JSON.stringify(db.prepare('SELECT * FROM audit_log').all()).includes('guess'));
});

test('filters: user, VM, action, result, paging', () => {
  const db = openDb(':memory:');
  const log = new AuditLog(db);
  for (let i = 0; i < 30; i++) {
    log.record({ userId: 1 + (i % 2), username: i % 2 ? 'bob' : 'alice', ip: null, action: i % 3 ? 'POST /api/vms/{id}/start' : 'console.open vnc', vmId: i % 5 ? 'vm-1' : 'vm-2', status: i % 4 ? 200 : 403, code: i % 4 ? null : 'FORBIDDEN' });
  }
  assert.equal(log.query(q({ username: 'bob' })).entries.length, 15);
  assert.ok(log.query(q({ vmId: 'vm-2' })).entries.every((e) => e.vmId === 'vm-2'));
  assert.ok(log.query(q({ action: 'console' })).entries.every((e) => e.action === 'console.open vnc'));
  assert.ok(log.query(q({ result: 'error' })).entries.every((e) => !e.ok && e.code === 'FORBIDDEN'));
  assert.equal(log.query(q({ action: '%' })).entries.length, 0, 'LIKE wildcards in the filter are literal');
  const page1 = log.query(q({ limit: 10 }));
  assert.equal(page1.entries.length, 10);
  const page2 = log.query(q({ limit: 10, before: page1.nextBefore }));
  assert.ok(page2.entries[0].id < page1.entries[9].id);
  assert.equal(log.query(q({ limit: 500 })).nextBefore, null);
});
