/**
 * Every API route and every websocket endpoint refuses a request without a valid session or token
 * (401), read from the server's own OpenAPI document so a new route cannot be forgotten; the same
 * crawl as a viewer (403 on every mutation but listed self-service ones) and as an operator on a
 * VM not granted to them (404 on everything, websockets included). Also:
 * login sets an HttpOnly SameSite=Strict cookie, logout ends the session, API tokens work as
 * Bearer, and logins are throttled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { TestServer } from '../helpers/server';
import { Client, fillPath, findAudit, isMutation, makeUser, operations, sleep, type Operation, type TestUser } from './security-helpers';

let s: TestServer;
before(async () => {
  s = await new TestServer({ guest: false }).start();
});
after(async () => {
  await s?.destroy();
});


test('every operation in /api/openapi.json answers 401 without credentials', async () => {
  const doc = await s.ok('GET', '/api/openapi.json');
  const ops: [string, string, any][] = [];
  for (const [p, methods] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(methods)) ops.push([m.toUpperCase(), p, op]);
  assert.ok(ops.length >= 15, `expected the whole API in the document, got ${ops.length} operations`);
  let checked = 0;
  for (const [method, p, op] of ops) {
    if (op.security?.length === 0) continue; // login is the one public route
    for (const headers of [{}, { authorization: 'Bearer vmm_not-a-real-token' }, { cookie: 'vmm_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }] as Record<string, string>[]) {
      const res = await fetch(`${s.url}${fillPath(p)}`, { method, headers: { ...headers, 'content-type': 'application/json', origin: s.origin }, body: method === 'GET' ? undefined : '{}' });
      assert.equal(res.status, 401, `${method} ${p} with ${JSON.stringify(headers)}`);
      const body = await res.json();
      assert.equal(body.code, 'UNAUTHORIZED');
      checked++;
    }
  }
  const publicOps = ops.filter(([, , op]) => op.security?.length === 0).map(([m, p]) => `${m} ${p}`);
  assert.deepEqual(publicOps, ['POST /api/auth/login']);
  assert.ok(checked >= 45);
});

test('the OpenAPI document itself and unknown API paths need credentials', async () => {
  for (const p of ['/api/openapi.json', '/api/nope', '/api', '/api/vms/x/y/z']) {
    const res = await fetch(`${s.url}${p}`);
    assert.equal(res.status, 401, p);
  }
});

test('every websocket endpoint refuses an upgrade without credentials', async () => {
  for (const p of ['/ws/events', `/ws/vnc/${crypto.randomUUID()}`, `/ws/serial/${crypto.randomUUID()}`, '/ws/unknown']) {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}${p}`, { headers: { origin: s.origin } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 401, p);
  }
});

test('login sets an HttpOnly SameSite=Strict cookie; logout ends the session', async () => {
  const res = await fetch(`${s.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.origin }, body: JSON.stringify({ username: 'admin', password: 'test-admin-password' }) });
  assert.equal(res.status, 200);
  const cookie = res.headers.get('set-cookie') ?? '';
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const session = cookie.split(';')[0];
  assert.equal((await fetch(`${s.url}/api/auth/me`, { headers: { cookie: session } })).status, 200);
  assert.equal((await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { cookie: session, origin: s.origin } })).status, 204);
  assert.equal((await fetch(`${s.url}/api/auth/me`, { headers: { cookie: session } })).status, 401);
});

test('an API token works as a Bearer token', async () => {
  const { token } = await s.ok('POST', '/api/auth/tokens', { name: 'ci' });
  assert.match(token, /^vmm_/);
  const res = await fetch(`${s.url}/api/vms`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
});

test('a state-changing request from a foreign Origin is refused', async () => {
  const r = await s.api('POST', '/api/pools/default/volumes', { name: 'csrf.qcow2', sizeMiB: 1 }, { origin: 'https://evil.example' });
  assert.equal(r.status, 403);
  assert.equal(r.body.code, 'BAD_ORIGIN');
});

// ---- roles and per-VM grants: the same crawl as a viewer and as an operator ------------------

/**
 * Mutations a viewer may make, each for a reason. The crawl checks that these are exactly the
 * mutating operations the OpenAPI document marks `x-role: viewer`, so a new one cannot slip in.
 */
const VIEWER_MUTATIONS: Record<string, string> = {
  'POST /api/auth/logout': 'ending your own session (not crawled: it would end the crawler\'s)',
  'POST /api/auth/password': 'changing your own password (needs the current one)',
  'POST /api/auth/tokens': 'your own API tokens, never above your role',
  'DELETE /api/auth/tokens/{tid}': 'revoking your own API tokens',
  'POST /api/vms/{id}/console': 'a view-only console ticket, on a VM you were granted',
};

describe('roles and grants', () => {
  let admin: Client;
  let viewer: TestUser;
  let operator: TestUser;
  let vmId: string;
  let ops: Operation[];

  before(async () => {
    admin = new Client(s, { cookie: s.cookie }, 'admin');
    viewer = await makeUser(admin, 'crawl-viewer', 'viewer');
    operator = await makeUser(admin, 'crawl-operator', 'operator');
    vmId = (await admin.ok('POST', '/api/vms', { name: 'not-granted', memoryMiB: 128 })).id;
    ops = (await operations(admin)).ops;
  });

  test('a viewer is refused every mutation (403), except the listed self-service ones', async () => {
    const viewerOps = ops.filter((o) => isMutation(o.method) && o.op['x-role'] === 'viewer').map((o) => `${o.method} ${o.path}`);
    assert.deepEqual(viewerOps.sort(), Object.keys(VIEWER_MUTATIONS).sort(), 'mutations open to viewers must be listed with a reason');
    let refused = 0;
    for (const { method, path, op } of ops) {
      if (!isMutation(method) || op.security?.length === 0) continue;
      const key = `${method} ${path}`;
      if (key === 'POST /api/auth/logout') continue;
      const r = await viewer.client.api(method, fillPath(path, { id: vmId }), '{}');
      assert.ok(r.status >= 400 && r.status < 500 && typeof r.body.code === 'string', `${key} as viewer → ${r.status}`);
      if (VIEWER_MUTATIONS[key]) {
        assert.notEqual(r.status, 401, key);
        continue;
      }
      assert.equal(r.status, 403, `${key} as viewer → ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'FORBIDDEN');
      refused++;
    }
    assert.ok(refused >= 15, `only ${refused} mutations crawled`);
    // The session still works: nothing above ended it.
    assert.equal((await viewer.client.api('GET', '/api/auth/me')).status, 200);
  });

  test('an operator gets 404 for every operation on a VM not granted to them, and sees it nowhere', async () => {
    let checked = 0;
    for (const { method, path } of ops) {
      if (!path.startsWith('/api/vms/{id}')) continue;
      for (const who of [operator, viewer]) {
        const r = await who.client.api(method, fillPath(path, { id: vmId, action: 'start' }), isMutation(method) ? '{}' : undefined);
        if (who === viewer && isMutation(method) && !VIEWER_MUTATIONS[`${method} ${path}`]) {
          assert.equal(r.status, 403, `${method} ${path} as viewer`);
        } else {
          assert.equal(r.status, 404, `${method} ${path} as ${who.username} → ${r.status} ${JSON.stringify(r.body)}`);
          assert.equal(r.body.code, 'VM_NOT_FOUND');
        }
        checked++;
      }
    }
    assert.ok(checked >= 20, `only ${checked} VM operations crawled`);
    const list = await operator.client.ok('GET', '/api/vms');
    assert.ok(!list.vms.some((v: any) => v.id === vmId), 'the VM list leaks an ungranted VM');
    const events = await operator.client.ws('/ws/events');
    assert.equal(events.status, 101);
    await sleep(200);
    const hello = events.messages.find((m) => m.type === 'hello');
    assert.ok(hello && !hello.vms.some((v: any) => v.id === vmId), 'the events hello leaks an ungranted VM');
    events.ws!.close();
    // Granted, the same VM answers: the 404s above were the grant's doing.
    await admin.ok('POST', `/api/admin/users/${operator.id}/grants`, { vmId });
    assert.equal((await operator.client.api('GET', `/api/vms/${vmId}`)).status, 200);
    await admin.ok('DELETE', `/api/admin/users/${operator.id}/grants/${vmId}`);
    assert.equal((await operator.client.api('GET', `/api/vms/${vmId}`)).status, 404);
  });

  test("an operator's new VM is theirs: granted, in their live list at once, invisible to others", async () => {
    const events = await operator.client.ws('/ws/events');
    const viewerEvents = await viewer.client.ws('/ws/events');
    const vm = await operator.client.ok('POST', '/api/vms', { name: 'op-owned', memoryMiB: 128 });
    const deadline = Date.now() + 3000;
    while (!events.messages.some((m) => m.type === 'vm' && m.vm.id === vm.id) && Date.now() < deadline) await sleep(50);
    assert.ok(events.messages.some((m) => m.type === 'vm' && m.vm.id === vm.id), 'the creator was not told about the new VM');
    assert.ok(!viewerEvents.messages.some((m) => m.type === 'vm' && m.vm.id === vm.id), 'another user was told about it');
    assert.equal((await viewer.client.api('GET', `/api/vms/${vm.id}`)).status, 404);
    const me = (await admin.ok('GET', '/api/admin/users')).users.find((u: any) => u.username === 'crawl-operator');
    assert.ok(me.grants.some((g: any) => g.vmId === vm.id && g.owner));
    events.ws!.close();
    viewerEvents.ws!.close();
    await operator.client.ok('DELETE', `/api/vms/${vm.id}`);
    assert.ok(!(await admin.ok('GET', '/api/admin/users')).users.find((u: any) => u.username === 'crawl-operator').grants.some((g: any) => g.vmId === vm.id), 'a deleted VM leaves no grant');
  });

  test('admin operations refuse operators and viewers (403)', async () => {
    const adminOps = ops.filter((o) => o.op['x-role'] === 'admin');
    assert.ok(adminOps.length >= 8, `expected the admin API in the document, got ${adminOps.length}`);
    for (const { method, path } of adminOps) {
      for (const who of [operator, viewer]) {
        const r = await who.client.api(method, fillPath(path, { uid: '1' }), isMutation(method) ? '{}' : undefined);
        assert.equal(r.status, 403, `${method} ${path} as ${who.username}`);
      }
    }
  });

  test('console websockets: 404 on a VM not granted, 401 without credentials, 403 from a foreign Origin', async () => {
    for (const kind of ['vnc', 'serial']) {
      for (const who of [operator, viewer]) {
        const r = await who.client.ws(`/ws/${kind}/${vmId}?ticket=${'A'.repeat(43)}`);
        assert.equal(r.status, 404, `${kind} as ${who.username}`);
      }
      const foreign = await admin.ws(`/ws/${kind}/${vmId}`, { origin: 'https://evil.example' });
      assert.equal(foreign.status, 403, `${kind} from a foreign Origin`);
    }
    const events = await operator.client.ws('/ws/events', { origin: 'https://evil.example' });
    assert.equal(events.status, 403);
    assert.match(events.body, /BAD_ORIGIN/);
  });

  test('each refused attempt is in the audit log with user, VM and result', async () => {
    const e = await findAudit(admin, { username: 'crawl-viewer', vmId }, (x) => x.action === 'POST /api/vms/{id}/start' && x.status === 403);
    assert.equal(e.ok, false);
    assert.equal(e.code, 'FORBIDDEN');
    const o = await findAudit(admin, { username: 'crawl-operator', vmId }, (x) => x.action === 'DELETE /api/vms/{id}' && x.status === 404);
    assert.equal(o.code, 'VM_NOT_FOUND');
    await findAudit(admin, { username: 'crawl-operator', vmId }, (x) => x.action === 'console.open vnc' && x.code === 'VM_NOT_FOUND');
    await findAudit(admin, { vmId }, (x) => x.action === 'POST /api/admin/users/{uid}/grants' && x.ok && x.username === 'admin');
  });
});

// Last: it locks logins from this IP for a minute.
test('wrong passwords are throttled with a clear message', async () => {
  let last: Response | null = null;
  for (let i = 0; i < 12; i++) {
    last = await fetch(`${s.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: `wrong-${i}` }) });
    if (last.status === 429) break;
    assert.equal(last.status, 401);
  }
  assert.equal(last!.status, 429);
  const body = await last!.json();
  assert.equal(body.code, 'RATE_LIMITED');
  assert.match(body.message, /try again/);
});
