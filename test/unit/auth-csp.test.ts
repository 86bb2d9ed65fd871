/**
 * The page CSP and its nonce: the policy's directives, the nonce added to every <script> tag of a
 * streamed HTML answer (whatever the chunking), HTML answers made uncacheable, other answers left
 * alone, and HSTS only over TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_CSP, pageCsp, preparePageRequest, ScriptNoncer, securityHeaders } from '../../server/http/security';

test('the page policy: nonce scripts, no inline or eval, same-host websockets, never framed', () => {
  const csp = pageCsp('abc', { dev: false, tls: false, host: 'vmm.example:8443' });
  const d = Object.fromEntries(csp.split('; ').map((x) => [x.split(' ')[0], x.split(' ').slice(1)]));
  assert.deepEqual(d['script-src'], ["'self'", "'nonce-abc'"]);
  assert.deepEqual(d['default-src'], ["'self'"]);
  assert.deepEqual(d['frame-ancestors'], ["'none'"]);
  assert.deepEqual(d['object-src'], ["'none'"]);
  assert.deepEqual(d['base-uri'], ["'none'"]);
  assert.deepEqual(d['connect-src'], ["'self'", 'ws://vmm.example:8443', 'wss://vmm.example:8443']);
  assert.deepEqual(d['img-src'], ["'self'", 'data:', 'blob:']);
  assert.ok(!csp.includes('unsafe-eval'));
  assert.match(pageCsp('abc', { dev: true, tls: false }), /script-src 'self' 'nonce-abc' 'unsafe-eval'/);
  assert.match(pageCsp('abc', { dev: false, tls: true, host: 'h' }), /connect-src 'self' wss:\/\/h;.*upgrade-insecure-requests/);
});

test('a hostile Host header is not echoed into the policy', () => {
  for (const host of ["evil; script-src *", 'a b', "x'", 'h\u0000']) {
    const csp = pageCsp('n', { dev: false, tls: false, host });
    assert.match(csp, /connect-src 'self';/);
    assert.ok(!csp.includes('evil') && !csp.includes("x'"));
  }
});

test('every <script> tag gets the nonce once, whatever the chunk boundaries', () => {
  const html =
    '<!DOCTYPE html><html><head><script>theme()</script><script src="/_next/a.js" async=""></script>' +
    '<script nonce="N" src="/b.js"></script><SCRIPT\ttype="module">m()</SCRIPT><scripting></scripting></head>' +
    '<body><p>&lt;script&gt; is text</p><script>self.__next_f.push([1,"\\u003cscript"])</script><script></script></body></html>';
  const want = html
    .replace('<script>theme', '<script nonce="N">theme')
    .replace('<script src="/_next', '<script nonce="N" src="/_next')
    .replace('<SCRIPT\t', '<SCRIPT nonce="N"\t')
    .replace('<script>self', '<script nonce="N">self')
    .replace('<script></script>', '<script nonce="N"></script>');
  for (let size = 1; size <= 40; size++) {
    const n = new ScriptNoncer('N');
    let out = '';
    for (let i = 0; i < html.length; i += size) out += n.push(Buffer.from(html.slice(i, i + size), 'latin1')).toString('latin1');
    out += n.flush().toString('latin1');
    assert.equal(out, want, `chunks of ${size}`);
  }
});

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => void }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test('HTML answers are rewritten as they stream, lose their length and etag, and are not cached', async () => {
  let seen: http.IncomingHttpHeaders = {};
  const srv = await serve((req, res) => {
    securityHeaders(res, false);
    const nonce = preparePageRequest(req, res, { dev: false, tls: false });
    seen = { ...req.headers, nonce };
    const body = '<html><script>x()</script></html>';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length), etag: '"abc"', 'cache-control': 's-maxage=31536000' });
    res.write(body.slice(0, 10));
    res.end(body.slice(10));
  });
  try {
    const res = await fetch(`${srv.url}/storage`, { headers: { 'accept-encoding': 'gzip', 'if-none-match': '"abc"' } });
    const text = await res.text();
    const nonce = String(seen.nonce);
    assert.equal(text, `<html><script nonce="${nonce}">x()</script></html>`);
    assert.equal(res.headers.get('etag'), null);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy')!, new RegExp(`'nonce-${nonce.replace(/[+/=]/g, '\\$&')}'`));
    // Next reads the nonce from the request; compression and 304s are off for pages.
    assert.match(String(seen['content-security-policy']), /nonce-/);
    assert.equal(seen['x-nonce'], nonce);
    assert.equal(seen['accept-encoding'], undefined);
    assert.equal(seen['if-none-match'], undefined);
  } finally {
    srv.close();
  }
});

test('non-HTML answers pass untouched; static assets keep their caching; API answers get the closed policy', async () => {
  const srv = await serve((req, res) => {
    securityHeaders(res, true);
    preparePageRequest(req, res, { dev: false, tls: true });
    if (req.url!.startsWith('/_next/static/')) {
      res.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'public, max-age=31536000, immutable' }).end('var s="<script>";');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/x-component' }).end('0:"<script>"');
  });
  try {
    const rsc = await fetch(`${srv.url}/vms/x`);
    assert.equal(await rsc.text(), '0:"<script>"');
    const js = await fetch(`${srv.url}/_next/static/chunks/a.js`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(await js.text(), 'var s="<script>";');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('content-security-policy'), API_CSP);
    assert.equal(js.headers.get('strict-transport-security'), 'max-age=31536000');
  } finally {
    srv.close();
  }
  const plain = await serve((_req, res) => {
    securityHeaders(res, false);
    res.end('{}');
  });
  try {
    const r = await fetch(plain.url);
    assert.equal(r.headers.get('strict-transport-security'), null, 'no HSTS without TLS');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('content-security-policy'), API_CSP);
  } finally {
    plain.close();
  }
});
