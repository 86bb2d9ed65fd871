/**
 * Every API route and every websocket endpoint refuses a request without a valid session or token
 * (401), read from the server's own OpenAPI document so a new route cannot be forgotten. Also:
 * login sets an HttpOnly SameSite=Strict cookie, logout ends the session, API tokens work as
 * Bearer, and logins are throttled.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { TestServer } from '../helpers/server';

let s: TestServer;
before(async () => {
  s = await new TestServer({ guest: false }).start();
});
after(async () => {
  await s?.destroy();
});

function fill(p: string): string {
  return p
    .replace('{id}', crypto.randomUUID())
    .replace('{pool}', 'default')
    .replace('{name}', 'x.qcow2')
    .replace('{action}', 'start');
}

test('every operation in /api/openapi.json answers 401 without credentials', async () => {
  const doc = await s.ok('GET', '/api/openapi.json');
  const ops: [string, string, any][] = [];
  for (const [p, methods] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(methods)) ops.push([m.toUpperCase(), p, op]);
  assert.ok(ops.length >= 15, `expected the whole API in the document, got ${ops.length} operations`);
  let checked = 0;
  for (const [method, p, op] of ops) {
    if (op.security?.length === 0) continue; // login is the one public route
    for (const headers of [{}, { authorization: 'Bearer vmm_not-a-real-token' }, { cookie: 'vmm_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }] as Record<string, string>[]) {
      const res = await fetch(`${s.url}${fill(p)}`, { method, headers: { ...headers, 'content-type': 'application/json', origin: s.origin }, body: method === 'GET' ? undefined : '{}' });
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
