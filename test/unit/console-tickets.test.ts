/**
 * Console tickets and issuing: single use, 30 s expiry (injected clock), bound to user + VM + kind,
 * burnt on any presentation, swept when stale, and the VNC password dance over a fake QMP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TicketStore } from '../../server/console/tickets';
import { consoleUrl, issueConsoleTicket, randomVncPassword } from '../../server/console/issue';
import { ConsoleTicketSchema } from '../../lib/schemas/console';

const VM = '2f1c3a5e-8d4b-4c1a-9e7f-0a1b2c3d4e5f';
const OTHER_VM = '3f1c3a5e-8d4b-4c1a-9e7f-0a1b2c3d4e5f';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a ticket works exactly once for its user, VM and kind', () => {
  const store = new TicketStore();
  const { ticket, expiresAt } = store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  assert.match(ticket, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.ok(Date.parse(expiresAt) > Date.now());
  assert.deepEqual(store.consume(ticket, { userId: 1, vmId: VM, kind: 'vnc' }), { viewOnly: false });
  assert.equal(store.consume(ticket, { userId: 1, vmId: VM, kind: 'vnc' }), null, 'reuse refused');
});

test('expired tickets are refused (30 s by default)', () => {
  const c = clock();
  const store = new TicketStore({ now: c.now });
  const a = store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  const b = store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  assert.equal(a.expiresAtMs, 1_000_000 + 30_000);
  c.advance(29_999);
  assert.ok(store.consume(a.ticket, { userId: 1, vmId: VM, kind: 'vnc' }));
  c.advance(1);
  assert.equal(store.consume(b.ticket, { userId: 1, vmId: VM, kind: 'vnc' }), null);
});

test('wrong user, wrong VM, wrong kind are refused, and burn the ticket', () => {
  const store = new TicketStore();
  const want = { userId: 7, vmId: VM, kind: 'serial' as const };
  for (const bad of [
    { ...want, userId: 8 },
    { ...want, vmId: OTHER_VM },
    { ...want, kind: 'vnc' as const },
  ]) {
    const { ticket } = store.issue({ ...want, viewOnly: true });
    assert.equal(store.consume(ticket, bad), null);
    assert.equal(store.consume(ticket, want), null, 'a leaked ticket stays dead');
  }
  const { ticket } = store.issue({ ...want, viewOnly: true });
  assert.deepEqual(store.consume(ticket, want), { viewOnly: true });
});

test('garbage, missing and unknown tickets are refused', () => {
  const store = new TicketStore();
  store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  const want = { userId: 1, vmId: VM, kind: 'vnc' as const };
  for (const t of [null, undefined, '', 'x', 'A'.repeat(43), 'A'.repeat(44), '../../etc/passwd', 'A'.repeat(10_000)]) {
    assert.equal(store.consume(t as string, want), null);
  }
  assert.equal(store.size, 1);
});

test('stale tickets are swept and the store is bounded', () => {
  const c = clock();
  const store = new TicketStore({ now: c.now, maxTickets: 5 });
  for (let i = 0; i < 4; i++) store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  assert.equal(store.size, 4);
  c.advance(30_001);
  store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  assert.equal(store.size, 1, 'expired ones swept on issue');
  const first = store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  for (let i = 0; i < 10; i++) store.issue({ userId: 1, vmId: VM, kind: 'vnc', viewOnly: false });
  assert.equal(store.size, 5);
  assert.equal(store.consume(first.ticket, { userId: 1, vmId: VM, kind: 'vnc' }), null, 'oldest evicted');
});

test('issueConsoleTicket sets a VNC password that expires in 30 s and returns the wire shape', async () => {
  const calls: [string, object | undefined][] = [];
  const qmp = { execute: async (cmd: string, args?: object) => (calls.push([cmd, args]), {}) };
  const tickets = new TicketStore();
  const user = { id: 3, username: 'ann', role: 'operator' as const };
  const t = await issueConsoleTicket({ user, vmId: VM, kind: 'vnc', viewOnly: false, qmp, tickets });
  ConsoleTicketSchema.parse(t);
  assert.equal(t.url, `/ws/vnc/${VM}?ticket=${t.ticket}`);
  assert.match(t.password!, /^[A-Za-z0-9]{8}$/);
  assert.deepEqual(calls, [
    ['set_password', { protocol: 'vnc', password: t.password }],
    ['expire_password', { protocol: 'vnc', time: '+30' }],
  ]);
  assert.equal(t.viewOnly, false);
  assert.deepEqual(tickets.consume(t.ticket, { userId: 3, vmId: VM, kind: 'vnc' }), { viewOnly: false });

  // A second console a moment later reuses the still-fresh password (QEMU has only one), but sets it again.
  const t2 = await issueConsoleTicket({ user, vmId: VM, kind: 'vnc', qmp, tickets });
  assert.equal(t2.password, t.password);
  assert.equal(calls.length, 4);
  assert.notEqual(t2.ticket, t.ticket);

  // A viewer always gets view-only; serial needs no QMP and no password.
  const viewer = { id: 4, username: 'vic', role: 'viewer' as const };
  const s = await issueConsoleTicket({ user: viewer, vmId: VM, kind: 'serial', viewOnly: false, qmp: null, tickets });
  assert.equal(s.password, null);
  assert.equal(s.viewOnly, true);
  assert.equal(s.url, consoleUrl('serial', VM, s.ticket));
  assert.deepEqual(tickets.consume(s.ticket, { userId: 4, vmId: VM, kind: 'serial' }), { viewOnly: true });

  // A QMP failure means no ticket.
  const failing = { execute: async () => Promise.reject(new Error('QMP down')) };
  const before = tickets.size;
  await assert.rejects(issueConsoleTicket({ user, vmId: OTHER_VM, kind: 'vnc', qmp: failing, tickets }), /QMP down/);
  assert.equal(tickets.size, before);
});

test('VNC passwords are 8 characters and vary', () => {
  const seen = new Set(Array.from({ length: 200 }, randomVncPassword));
  assert.equal(seen.size, 200);
  for (const p of seen) assert.match(p, /^[A-HJ-NP-Za-km-z2-9]{8}$/);
});
