/**
 * The static page server (server/http/pages.ts) on a real HTTP server over a small export tree:
 * pages by name with a fresh nonce on every script, assets with their precompressed copies and
 * long caching, RSC payloads as text/plain with ETags, paths that try to leave the export refused,
 * the old /vms/<id> URLs redirected, and only GET/HEAD.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { legacyVmRedirect, makePagesHandler, resolvePage } from '../../server/http/pages';

let tmp: string;
let root: string;
let base: string;
let server: http.Server;
const JS = 'console.log("chunk");'.repeat(50);

function write(rel: string, body: string | Buffer) {
  const p = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, body);
}

const page = (title: string) =>
  `<!DOCTYPE html><html><head><script src="/_next/static/chunks/a.js" async=""></script><title>${title}</title></head><body><script>self.x=1</script><script nonce="keep">y()</script></body></html>`;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-pages-'));
  root = path.join(tmp, 'out');
  write('secret.txt', 'outside the export');
  write('out/index.html', page('Dashboard'));
  write('out/login.html', page('Sign in'));
  write('out/login/__next._tree.txt', 'tree');
  write('out/vm.html', page('VM'));
  write('out/vm/console.html', page('Console'));
  write('out/vm.txt', '0:{"rsc":true}');
  write('out/404.html', page('Not found'));
  write('out/favicon.ico', Buffer.from([0, 0, 1, 0]));
  write('out/_next/static/chunks/a.js', JS);
  write('out/_next/static/chunks/a.js.br', zlib.brotliCompressSync(JS));
  write('out/_next/static/chunks/a.js.gz', zlib.gzipSync(JS));
  write('out/_next/static/chunks/b.css', 'body{}');
  server = http.createServer(makePagesHandler({ dir: root, dev: false, tls: false }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A raw request: the path goes out as written (fetch would normalise `..`). */
function get(p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method, path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a page: its HTML with one fresh nonce on every script, the page CSP, never cached', async () => {
  const a = await get('/login');
  assert.equal(a.status, 200);
  assert.match(String(a.headers['content-type']), /^text\/html/);
  assert.equal(a.headers['cache-control'], 'no-store');
  const html = a.body.toString();
  assert.match(html, /<title>Sign in<\/title>/);
  const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(String(a.headers['content-security-policy']))?.[1];
  assert.ok(nonce, 'the CSP carries a nonce');
  const tags = [...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
  assert.equal(tags.length, 3);
  assert.equal(tags.filter((t) => t.includes(`nonce="${nonce}"`)).length, 2, 'both scripts without a nonce got this one');
  assert.ok(tags.some((t) => t.includes('nonce="keep"')), 'a script that had a nonce keeps it');
  const b = await get('/login');
  assert.notEqual(/nonce-([^']+)/.exec(String(b.headers['content-security-policy']))?.[1], nonce, 'a new nonce per response');
  assert.match((await get('/')).body.toString(), /<title>Dashboard<\/title>/);
  assert.match((await get('/vm/console?id=x')).body.toString(), /<title>Console<\/title>/);
});

test('HTML is gzipped for a browser that takes it, and HEAD sends no body', async () => {
  const r = await get('/vm?id=1', { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.match(zlib.gunzipSync(r.body).toString(), /<title>VM<\/title>/);
  const h = await get('/vm', {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.ok(Number(h.headers['content-length']) > 0);
});

test('hashed assets: the brotli or gzip copy when accepted, the file otherwise, cached as immutable', async () => {
  const br = await get('/_next/static/chunks/a.js', { 'accept-encoding': 'gzip, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), JS);
  assert.match(String(br.headers['cache-control']), /immutable/);
  assert.match(String(br.headers['content-type']), /^text\/javascript/);
  const gz = await get('/_next/static/chunks/a.js', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), JS);
  const refused = await get('/_next/static/chunks/a.js', { 'accept-encoding': 'br;q=0, gzip;q=0' });
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.equal(refused.body.toString(), JS);
  const css = await get('/_next/static/chunks/b.css', { 'accept-encoding': 'br' });
  assert.equal(css.headers['content-encoding'], undefined, 'no copy: the file as it is');
  assert.match(String(css.headers['content-type']), /^text\/css/);
});

test('RSC payloads: text/plain (what Next accepts in export mode), revalidated by ETag', async () => {
  const r = await get('/vm.txt?_rsc=abc');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.equal(r.headers['cache-control'], 'no-cache');
  const etag = String(r.headers.etag);
  assert.ok(etag.length > 4);
  assert.equal((await get('/vm.txt', { 'if-none-match': etag })).status, 304);
  assert.equal((await get('/login/__next._tree.txt')).body.toString(), 'tree');
});

test('a path that leaves the export, names a directory or is malformed is a 404 page', async () => {
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/_next/..%2f..%2fsecret.txt', '/_next/static/chunks/', '/login/', '/nope', '/%00', '/%E0%A4%A', '/vm%00.html']) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body.toString(), /outside the export/, p);
    assert.match(r.body.toString(), /<title>Not found<\/title>/, p);
  }
  assert.equal(resolvePage(root, '/../secret.txt'), null);
  assert.equal(resolvePage(root, '/vm'), path.join(root, 'vm.html'));
  assert.equal(resolvePage(root, '/login'), path.join(root, 'login.html'), 'a page next to a directory of the same name');
});

test('the old VM URLs redirect to the query-parameter pages, keeping the rest of the query', async () => {
  const r = await get('/vms/3f6c/console?scale=1');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, '/vm/console?id=3f6c&scale=1');
  assert.equal(legacyVmRedirect('/vms/abc', new URLSearchParams('tab=cpus&id=evil')), '/vm?id=abc&tab=cpus');
  assert.equal(legacyVmRedirect('/vms/a%20b', new URLSearchParams()), null, 'only plain ids');
  assert.equal(legacyVmRedirect('/vms/new', new URLSearchParams()), null, '/vms/new is the wizard');
  assert.equal(legacyVmRedirect('/vms/new.txt', new URLSearchParams('_rsc=1')), null, "the wizard's RSC payload");

  assert.equal(legacyVmRedirect('/vm', new URLSearchParams('id=1')), null);
  assert.equal(legacyVmRedirect('/vms/a/b', new URLSearchParams()), null);
});

test('only GET and HEAD', async () => {
  for (const m of ['POST', 'PUT', 'DELETE']) {
    const r = await get('/login', {}, m);
    assert.equal(r.status, 405, m);
    assert.equal(r.headers.allow, 'GET, HEAD');
    assert.equal(JSON.parse(r.body.toString()).code, 'METHOD_NOT_ALLOWED');
  }
});
