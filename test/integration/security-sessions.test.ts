/**
 * Taking rights away takes effect at once, on open connections too, and console tickets are
 * strict — all through the real server with one real QEMU (no boot media, 128 MiB):
 * - disabling a user closes their events and console websockets and refuses their cookie;
 * - revoking a token closes what it opened and refuses it; logout closes only that session's;
 * - revoking a grant closes the consoles on that VM and removes it from the live list;
 * - tickets: reuse, expiry, another user's, another VM's and another kind's are refused;
 * - at most VMM_MAX_CONSOLES consoles per user;
 * - and the audit log has each of these, with user, VM and result.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer } from '../helpers/server';
import { Client, findAudit, loginCookie, makeUser, sleep, type TestUser, type WsOutcome } from './security-helpers';

const MAX_CONSOLES = 3;
let s: TestServer;
let admin: Client;
let vmA: string; // running
let vmB: string; // stopped
let early: { ticket: string; url: string; at: number };

async function ticket(c: Client, vmId: string, kind: 'vnc' | 'serial' = 'serial'): Promise<{ url: string; ticket: string }> {
  return c.ok('POST', `/api/vms/${vmId}/console`, { kind });
}

async function waitClosed(o: WsOutcome, ms = 3000): Promise<{ code: number; reason: string }> {
  return Promise.race([o.closed, sleep(ms).then(() => Promise.reject(new Error(`websocket still open after ${ms} ms`)))]);
}

before(async () => {
  s = await new TestServer({ guest: false, env: { VMM_MAX_CONSOLES: String(MAX_CONSOLES) } }).start();
  admin = new Client(s, { cookie: s.cookie }, 'admin');
  vmA = (await admin.ok('POST', '/api/vms', { name: 'sess-a', memoryMiB: 128, start: true })).id;
  vmB = (await admin.ok('POST', '/api/vms', { name: 'sess-b', memoryMiB: 128 })).id;
  await s.waitState(vmA, 'running');
  // For the expiry check at the end of the file (the TTL is 30 s; the other tests run meanwhile).
  const t = await ticket(admin, vmA);
  early = { ...t, at: Date.now() };
});

after(async () => {
  await s?.destroy();
});

describe('tickets', () => {
  test('a ticket works once; reuse is refused', async () => {
    const t = await ticket(admin, vmA);
    const first = await admin.ws(t.url);
    assert.equal(first.status, 101);
    first.ws!.close();
    const again = await admin.ws(t.url);
    assert.equal(again.status, 403);
    assert.match(again.body, /TICKET_INVALID/);
  });

  test("another user's ticket, another VM's and another kind's are refused", async () => {
    const op = await makeUser(admin, 'tix-op', 'operator');
    await admin.ok('POST', `/api/admin/users/${op.id}/grants`, { vmId: vmA });
    await admin.ok('POST', `/api/admin/users/${op.id}/grants`, { vmId: vmB });
    const adminsTicket = await ticket(admin, vmA);
    assert.equal((await op.client.ws(adminsTicket.url)).status, 403, "another user's ticket");
    const forA = await ticket(op.client, vmA);
    assert.equal((await op.client.ws(`/ws/serial/${vmB}?ticket=${forA.ticket}`)).status, 403, "another VM's ticket");
    const serial = await ticket(op.client, vmA, 'serial');
    assert.equal((await op.client.ws(`/ws/vnc/${vmA}?ticket=${serial.ticket}`)).status, 403, 'a serial ticket on the VNC socket');
    // Presented for the wrong VM, it is burnt: it does not work for the right one afterwards either.
    const burnt = await ticket(op.client, vmA);
    assert.equal((await op.client.ws(`/ws/serial/${vmB}?ticket=${burnt.ticket}`)).status, 403);
    assert.equal((await op.client.ws(burnt.url)).status, 403);
    // And without any ticket.
    assert.equal((await op.client.ws(`/ws/serial/${vmA}`)).status, 403);
    await findAudit(admin, { username: 'tix-op', vmId: vmA }, (e) => e.action === 'console.open serial' && e.code === 'TICKET_INVALID');
  });
});

describe('revocation closes open connections at once', () => {
  let op: TestUser;

  before(async () => {
    op = await makeUser(admin, 'sess-op', 'operator');
    await admin.ok('POST', `/api/admin/users/${op.id}/grants`, { vmId: vmA });
  });

  test('disabling a user closes their websockets and refuses their session', async () => {
    const events = await op.client.ws('/ws/events');
    const serial = await op.client.ws((await ticket(op.client, vmA, 'serial')).url);
    const vnc = await op.client.ws((await ticket(op.client, vmA, 'vnc')).url, {}, );
    for (const o of [events, serial, vnc]) assert.equal(o.status, 101);
    // Another user's connection must survive.
    const bystander = await admin.ws('/ws/events');
    const t0 = Date.now();
    await admin.ok('PATCH', `/api/admin/users/${op.id}`, { disabled: true });
    for (const [name, o] of [['events', events], ['serial', serial], ['vnc', vnc]] as const) {
      const c = await waitClosed(o);
      assert.equal(c.code, 4001, `${name} close code`);
      assert.ok(Date.now() - t0 < 2000, `${name} closed after ${Date.now() - t0} ms`);
    }
    assert.equal(bystander.ws!.readyState, bystander.ws!.OPEN, "another user's websocket was closed too");
    bystander.ws!.close();
    assert.equal((await op.client.api('GET', '/api/auth/me')).status, 401);
    assert.equal((await op.client.ws('/ws/events')).status, 401);
    const login = await fetch(`${s.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: op.username, password: op.password }) });
    assert.equal(login.status, 401);
    const audited = await findAudit(admin, { username: 'admin', action: 'PATCH /api/admin/users/{uid}' }, (e) => e.ok && e.params?.body?.disabled === true);
    assert.equal(audited.params.path.uid, String(op.id));
    // Enabled again, the user can sign in again (the old session stays ended).
    await admin.ok('PATCH', `/api/admin/users/${op.id}`, { disabled: false });
    assert.equal((await op.client.api('GET', '/api/auth/me')).status, 401);
    op = { ...op, client: new Client(s, { cookie: await loginCookie(s, op.username, op.password) }, op.username) };
  });

  test('revoking a token closes what it opened and refuses it; the owner\'s session is untouched', async () => {
    const created = await op.client.ok('POST', '/api/auth/tokens', { name: 'ci', role: 'operator', vmId: vmA });
    assert.match(created.token, /^vmm_/);
    assert.equal(created.vmId, vmA);
    const bearer = new Client(s, { token: created.token }, 'token');
    const events = await bearer.ws('/ws/events');
    const serial = await bearer.ws((await ticket(bearer, vmA, 'serial')).url);
    const sessionEvents = await op.client.ws('/ws/events');
    for (const o of [events, serial, sessionEvents]) assert.equal(o.status, 101);
    await op.client.ok('DELETE', `/api/auth/tokens/${created.id}`);
    assert.equal((await waitClosed(events)).code, 4001);
    assert.equal((await waitClosed(serial)).code, 4001);
    assert.equal(sessionEvents.ws!.readyState, sessionEvents.ws!.OPEN, 'the session\'s websocket was closed by a token revocation');
    sessionEvents.ws!.close();
    assert.equal((await bearer.api('GET', '/api/vms')).status, 401);
    assert.equal((await bearer.ws('/ws/events')).status, 401);
    const listed = (await op.client.ok('GET', '/api/auth/tokens')).tokens.find((t: any) => t.id === created.id);
    assert.equal(listed.revoked, true);
    assert.ok(listed.lastUsedAt, 'last use is recorded');
    await findAudit(admin, { username: op.username, action: 'DELETE /api/auth/tokens/{tid}' }, (e) => e.ok);
    await findAudit(admin, { username: op.username, vmId: vmA }, (e) => e.action === 'console.open serial' && e.ok && e.tokenId === created.id);
  });

  test('an admin revoking any token closes its websockets', async () => {
    const created = await op.client.ok('POST', '/api/auth/tokens', { name: 'ci2', role: 'viewer' });
    const bearer = new Client(s, { token: created.token }, 'token2');
    const events = await bearer.ws('/ws/events');
    assert.equal(events.status, 101);
    await admin.ok('DELETE', `/api/admin/tokens/${created.id}`);
    assert.equal((await waitClosed(events)).code, 4001);
    assert.equal((await bearer.api('GET', '/api/auth/me')).status, 401);
  });

  test('a token limited to one VM sees only it and cannot change anything else', async () => {
    const created = await op.client.ok('POST', '/api/auth/tokens', { name: 'scoped', vmId: vmA });
    const bearer = new Client(s, { token: created.token }, 'scoped');
    await admin.ok('POST', `/api/admin/users/${op.id}/grants`, { vmId: vmB });
    const list = await bearer.ok('GET', '/api/vms');
    assert.deepEqual(list.vms.map((v: any) => v.id), [vmA]);
    assert.equal((await bearer.api('GET', `/api/vms/${vmB}`)).status, 404);
    assert.equal((await bearer.api('POST', '/api/pools/default/volumes', { name: 'x.qcow2', sizeMiB: 1 })).status, 403);
    assert.equal((await bearer.api('POST', '/api/auth/tokens', { name: 'more' })).status, 403);
    assert.equal((await op.client.api('POST', '/api/auth/tokens', { name: 'too-high', role: 'admin' })).status, 403);
    await admin.ok('DELETE', `/api/admin/users/${op.id}/grants/${vmB}`);
  });

  test('revoking a grant closes the consoles on that VM and drops it from the live list', async () => {
    const events = await op.client.ws('/ws/events');
    const serial = await op.client.ws((await ticket(op.client, vmA, 'serial')).url);
    assert.equal(serial.status, 101);
    await sleep(100);
    assert.ok(events.messages.find((m) => m.type === 'hello').vms.some((v: any) => v.id === vmA));
    await admin.ok('DELETE', `/api/admin/users/${op.id}/grants/${vmA}`);
    assert.equal((await waitClosed(serial)).code, 4001);
    const deadline = Date.now() + 2000;
    while (!events.messages.some((m) => m.type === 'vm-deleted' && m.id === vmA) && Date.now() < deadline) await sleep(50);
    assert.ok(events.messages.some((m) => m.type === 'vm-deleted' && m.id === vmA), 'no vm-deleted for the revoked VM');
    assert.equal(events.ws!.readyState, events.ws!.OPEN, 'the events socket itself stays');
    events.ws!.close();
    assert.equal((await op.client.api('GET', `/api/vms/${vmA}`)).status, 404);
    await findAudit(admin, { username: 'admin', vmId: vmA }, (e) => e.action === 'DELETE /api/admin/users/{uid}/grants/{vmId}' && e.ok);
  });

  test('logout closes that session\'s websockets only', async () => {
    const other = new Client(s, { cookie: await loginCookie(s, op.username, op.password) }, 'second session');
    const mine = await op.client.ws('/ws/events');
    const theirs = await other.ws('/ws/events');
    await op.client.api('POST', '/api/auth/logout');
    assert.equal((await waitClosed(mine)).code, 4001);
    await sleep(200);
    assert.equal(theirs.ws!.readyState, theirs.ws!.OPEN);
    theirs.ws!.close();
  });
});

test(`at most ${MAX_CONSOLES} consoles per user`, async () => {
  const open: WsOutcome[] = [];
  for (let i = 0; i < MAX_CONSOLES; i++) {
    const o = await admin.ws((await ticket(admin, vmA, 'serial')).url);
    assert.equal(o.status, 101);
    open.push(o);
  }
  const over = await admin.ws((await ticket(admin, vmA, 'serial')).url);
  assert.equal(over.status, 429);
  assert.match(over.body, /RATE_LIMITED/);
  open.pop()!.ws!.close();
  await sleep(200);
  const again = await admin.ws((await ticket(admin, vmA, 'serial')).url);
  assert.equal(again.status, 101, 'a slot frees up when a console closes');
  for (const o of [...open, again]) o.ws!.close();
  await findAudit(admin, { username: 'admin', vmId: vmA }, (e) => e.action === 'console.open serial' && e.code === 'RATE_LIMITED');
});

test('an expired ticket is refused (30 s)', async () => {
  const wait = early.at + 31_000 - Date.now();
  if (wait > 0) await sleep(wait);
  const o = await admin.ws(early.url);
  assert.equal(o.status, 403);
  assert.match(o.body, /TICKET_INVALID/);
});
