/**
 * Fuzz: 10,000+ malformed or hostile requests, generated from the request schemas in
 * /api/openapi.json, against every mutating route, as an admin (the role that reaches the most
 * code). Wrong types, unknown keys (`__proto__`, `a,file=/etc/shadow`), huge strings, `../`, NUL
 * bytes, argv and QemuOpts injection, unicode tricks (RTL override, lone surrogates, homoglyphs,
 * fullwidth dots), invalid JSON and UTF-8, oversized bodies, wrong media types, hostile path params.
 *
 * Every answer must be a 4xx with an error code: each body is built to be invalid (an unknown key
 * on a strict schema, a non-object, broken JSON…), except "hostile but well-formed" bodies, which
 * go only to routes whose target does not exist (a random VM id, user 999999…), where the best
 * possible outcome is a 404 after full validation. No 5xx, the server stays up, nothing is created
 * in the data dir, and no file outside it is touched (a canary dir that the payloads point at keeps
 * its listing and mtimes, and no file named with the run's marker appears anywhere we look).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERROR_STATUS } from '../../lib/errors';
import { ROOT, TestServer } from '../helpers/server';
import { Client, fillPath, isMutation, operations, type Operation } from './security-helpers';

const TOTAL = 10_000;
const CONCURRENCY = 8;
const MARKER = `fuzzpwn${crypto.randomBytes(4).toString('hex')}`;
const CODES = new Set(Object.keys(ERROR_STATUS));

let s: TestServer;
let admin: Client;
let canary: string;

// ---- the hostile material ----------------------------------------------------------------------

function hostileStrings(): string[] {
  return [
    '', ' ', '..', '../', '../../../../etc/shadow', '/etc/shadow', `${canary}/${MARKER}`, `../../../../../../..${canary}/${MARKER}`,
    `default/../../../..${canary}/${MARKER}`, `default/${MARKER}/../../x`, 'default/..', 'default/.hidden', 'default/a b',
    'a,file=/etc/shadow', `x,file=${canary}/${MARKER}`, 'a,,b', 'id=x,driver=vfio-pci', 'if=none,file=/dev/sda', '-drive', '--help', '-readconfig',
    'json:{"file":{"driver":"file","filename":"/etc/shadow"}}', '{"driver":"file","filename":"/etc/shadow"}', 'file:///etc/passwd',
    'nbd://127.0.0.1:1/x', 'tcp:0.0.0.0:5900', 'unix:/tmp/x.sock', '/dev/fd/0', 'fd:3', '/proc/self/environ',
    '\u0000', 'a\u0000b', `${MARKER}\u0000.qcow2`, '%00', '%2e%2e%2f', '..%2f..%2fetc', '..\\..\\windows', '\\\\host\\share',
    '$(touch /tmp/' + MARKER + ')', '`id`', '; rm -rf /', '| cat /etc/shadow', '&& reboot', '\r\nSet-Cookie: vmm_session=x', '\n',
    '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' OR 1=1 --", '%s%s%s%n', '{{7*7}}', '${jndi:ldap://x}',
    '\u202eexe.qcow2', 'ａｄｍｉｎ', 'аdmin', '\ud800', '\udfff\ud800', '\ufeff', 'e\u0301', '\u200b', '．．／．．／etc', '０', '𝔞𝔡𝔪𝔦𝔫', '🙂',
    'CON', 'nul', '.', '~root', '__proto__', 'constructor', 'prototype', 'null', 'true', '1e309', 'NaN', '-1', '0x10', '1_000',
    'A'.repeat(300), 'a'.repeat(5000), `${'../'.repeat(2000)}etc/shadow`,
  ];
}

const HOSTILE_NUMBERS = [-1, 0, 1.5, -0.0001, 2 ** 31, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 4294967296, 65536];

function deep(n: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }
  next(): number {
    // xorshift32: reproducible runs for a given seed
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function hostileValue(r: Rng, strings: string[]): unknown {
  const k = r.int(10);
  if (k < 5) return r.pick(strings);
  if (k < 7) return r.pick(HOSTILE_NUMBERS);
  if (k === 7) return r.pick([null, true, false, [], {}, [null], [[]], { __proto__: { admin: true } }]);
  if (k === 8) return r.chance(0.05) ? 'x'.repeat(100_000) : [r.pick(strings), r.pick(strings)];
  return r.chance(0.1) ? deep(2000) : { [r.pick(strings)]: r.pick(strings) };
}

// ---- from the JSON schema -------------------------------------------------------------------------

type Schema = Record<string, any>;

function branches(s: Schema): Schema[] {
  return s.anyOf ?? s.oneOf ?? [s];
}

/** Does every object this body may be refuse unknown keys? (Then an unknown key is always invalid.) */
function isStrict(s: Schema): boolean {
  return branches(s).every((b) => b.type === 'object' && b.additionalProperties === false);
}

/** A plausible value (not necessarily valid) to start mutating from. */
function example(s: Schema, r: Rng, depth = 0): unknown {
  if (depth > 6) return null;
  if (s.anyOf || s.oneOf) return example(r.pick(branches(s)), r, depth + 1);
  if (s.const !== undefined) return s.const;
  if (s.enum) return r.pick(s.enum);
  if (s.default !== undefined && r.chance(0.3)) return s.default;
  switch (s.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) if ((s.required ?? []).includes(k) || r.chance(0.5)) o[k] = example(v, r, depth + 1);
      return o;
    }
    case 'array':
      return s.items ? [example(s.items, r, depth + 1)] : [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return r.chance(0.5);
    case 'string':
      if (s.format === 'uuid') return crypto.randomUUID();
      if (s.pattern?.includes('\\/')) return 'default/guest.iso';
      return 'a';
    default:
      return null;
  }
}

/** Replaces one leaf somewhere in `v` (objects and arrays) with a hostile value. */
function poison(v: unknown, r: Rng, strings: string[], depth = 0): unknown {
  if (depth > 4 || v === null || typeof v !== 'object' || r.chance(0.25)) return hostileValue(r, strings);
  if (Array.isArray(v)) {
    if (v.length === 0) return [hostileValue(r, strings)];
    const i = r.int(v.length);
    const copy = [...v];
    copy[i] = poison(copy[i], r, strings, depth + 1);
    return copy;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return { [r.pick(strings)]: hostileValue(r, strings) };
  const k = r.pick(keys);
  return { ...(v as object), [k]: poison((v as Record<string, unknown>)[k], r, strings, depth + 1) };
}

/** encodeURIComponent, but a lone surrogate becomes the raw (invalid) UTF-8 of one instead of a throw. */
function enc(x: string): string {
  try {
    return encodeURIComponent(x);
  } catch {
    return '%ED%A0%80';
  }
}

interface FuzzRequest {
  method: string;
  url: string;
  body: string | Buffer | undefined;
  contentType: string;
  kind: string;
}

/** Routes whose targets we can name as non-existent: a valid body there still ends in a 404. */
const NONEXISTENT: Record<string, string> = { id: crypto.randomUUID(), vmId: crypto.randomUUID(), uid: '999999', tid: '999999', name: `${MARKER}.qcow2`, diskId: 'nodisk', nicId: 'nonic' };
function targetsNothing(p: string): boolean {
  return /\{(id|uid|tid)\}/.test(p);
}

function generate(op: Operation, r: Rng, strings: string[]): FuzzRequest {
  const schema: Schema | undefined = op.op.requestBody?.content?.['application/json']?.schema;
  let url = fillPath(op.path, NONEXISTENT);
  let kind: string;
  let body: unknown;
  let raw: string | Buffer | undefined;
  let contentType = 'application/json';
  const roll = r.next();

  // Hostile path parameters and query strings, now and then.
  if (r.chance(0.06) && /\{\w+\}/.test(op.path)) {
    const bad = ['..%2f..%2fetc%2fshadow', '%00', enc(r.pick(strings)).slice(0, 3000), '%E0%A4%A', 'x'.repeat(2000), '%2e%2e'];
    url = op.path.replace(/\{(\w+)\}/g, () => r.pick(bad));
  }
  if (r.chance(0.04)) url += `?${enc(r.pick(strings)).slice(0, 200)}=${enc(r.pick(strings)).slice(0, 200)}&deleteDisks=${r.pick(['true', 'yes', '', '1'])}`;

  if (!schema) {
    // Routes without a body: it must be drained and ignored (or refused), never interpreted.
    kind = 'no-body-route';
    raw = r.chance(0.5) ? JSON.stringify(hostileValue(r, strings)) : undefined;
  } else if (roll < 0.2 && targetsNothing(op.path)) {
    kind = 'well-formed-hostile';
    body = example(schema, r);
    for (let i = 0, n = 1 + r.int(3); i < n; i++) body = poison(body, r, strings);
  } else if (roll < 0.65 && isStrict(schema)) {
    kind = 'unknown-key';
    body = example(schema, r);
    for (let i = 0, n = r.int(3); i < n; i++) body = poison(body, r, strings);
    const known = new Set(branches(schema).flatMap((b) => Object.keys(b.properties ?? {})));
    let key = r.pick([...strings, '__proto__', 'constructor', 'a,file=/etc/shadow', '../x', `${MARKER}`]);
    if (known.has(key) || key === '') key = `${MARKER}-${key}`;
    body = { ...(body as object), [key]: hostileValue(r, strings) };
    if (key === '__proto__') raw = JSON.stringify(body).replace(/^\{/, `{"__proto__":${JSON.stringify(hostileValue(r, strings)) ?? 'null'},`);
  } else if (roll < 0.8) {
    kind = 'not-an-object';
    body = r.pick<unknown>([[], [example(schema, r)], 'string', 42, null, true, deep(3000), r.pick(strings)]);
  } else {
    kind = 'malformed';
    const m = r.int(8);
    if (m === 0) raw = '{';
    else if (m === 1) raw = `{"a":${'['.repeat(5000)}`;
    else if (m === 2) raw = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]); // invalid UTF-8
    else if (m === 3) raw = `\ufeff${JSON.stringify(example(schema, r))}`;
    else if (m === 4) raw = `{"x":"${'a'.repeat(300 * 1024)}"}`; // over the body limit
    else if (m === 5) {
      contentType = r.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']);
      raw = r.chance(0.5) ? JSON.stringify(example(schema, r)) : `name=${enc(r.pick(strings))}`;
    } else if (m === 6) raw = `{"a":1,"a":2,"${'k'.repeat(10_000)}":null}`;
    else raw = JSON.stringify(example(schema, r)).slice(0, -1) + ',}';
  }
  return { method: op.method, url, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)), contentType, kind };
}

// ---- the file system around the data dir ---------------------------------------------------------

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function findMarked(dir: string, depth: number): string[] {
  const hits: string[] = [];
  const walk = (d: string, left: number) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.includes(MARKER)) hits.push(path.join(d, e.name));
      if (e.isDirectory() && left > 0 && e.name !== 'node_modules' && e.name !== '.git') walk(path.join(d, e.name), left - 1);
    }
  };
  walk(dir, depth);
  return hits;
}

before(async () => {
  canary = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-canary-'));
  fs.writeFileSync(path.join(canary, 'secret.txt'), 'do not touch\n');
  fs.mkdirSync(path.join(canary, 'sub'));
  fs.writeFileSync(path.join(canary, 'sub', 'disk.qcow2'), 'not an image\n');
  s = await new TestServer({ guest: false }).start();
  admin = new Client(s, { cookie: s.cookie }, 'admin');
  // Something to aim at: one stopped VM (its id is public knowledge to an admin) and one volume.
  await admin.ok('POST', '/api/vms', { name: 'fuzz-target', memoryMiB: 128 });
  await admin.ok('POST', '/api/pools/default/volumes', { name: 'fuzz-vol.qcow2', sizeMiB: 1 });
});

after(async () => {
  await s?.destroy();
  if (canary) fs.rmSync(canary, { recursive: true, force: true });
});

test(`${TOTAL} hostile requests across every mutating route: all 4xx with a code, server up, no file touched`, { timeout: 180_000 }, async () => {
  const { ops } = await operations(admin);
  // Logout would end the fuzzer's own session (it takes no body; the crawl in auth.test.ts covers it).
  const targets = ops.filter((o) => isMutation(o.method) && o.path !== '/api/auth/logout');
  assert.ok(targets.length >= 20, `only ${targets.length} mutating routes`);
  const withBody = targets.filter((o) => o.op.requestBody);
  assert.ok(withBody.length >= 12, `only ${withBody.length} routes with a request body`);

  const dataBefore = snapshot(path.join(s.dataDir, 'pools'));
  const vmsBefore = fs.readdirSync(path.join(s.dataDir, 'vms')).sort();
  const canaryBefore = snapshot(canary);
  const auditBefore = (await admin.ok('GET', '/api/admin/audit?limit=1')).entries[0].id as number;
  const strings = hostileStrings();
  const r = new Rng(Number(process.env.FUZZ_SEED ?? 0x5eed));

  const failures: string[] = [];
  const byKind = new Map<string, number>();
  const byStatus = new Map<number, number>();
  let sent = 0;
  // fetch resolves dot segments (`/api/vms/%2e%2e/%2e%2e` is `/`): those never reach the API.
  let apiCalls = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (sent < TOTAL) {
      const n = sent++;
      // Bodies go mostly to routes that take one, but every mutating route gets its share.
      const op = n % 5 === 0 ? targets[n % targets.length] : withBody[r.int(withBody.length)];
      const req = generate(op, r, strings);
      byKind.set(req.kind, (byKind.get(req.kind) ?? 0) + 1);
      if (new URL(req.url, s.url).pathname.startsWith('/api')) apiCalls++;
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${s.url}${req.url}`, {
          method: req.method,
          headers: { ...admin.headers(), ...(req.body !== undefined ? { 'content-type': req.contentType } : {}) },
          body: typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body),
        });
        status = res.status;
        text = await res.text();
      } catch (e) {
        failures.push(`#${n} ${req.method} ${req.url.slice(0, 120)} [${req.kind}]: network error ${(e as Error).message}`);
        continue;
      }
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      let code: unknown;
      try {
        code = JSON.parse(text).code;
      } catch {
        /* not JSON */
      }
      if (status < 400 || status >= 500 || typeof code !== 'string' || !CODES.has(code)) {
        failures.push(`#${n} ${req.method} ${req.url.slice(0, 120)} [${req.kind}] body=${String(req.body ?? '').slice(0, 200)} → ${status} ${text.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = (Date.now() - t0) / 1000;
  console.log(`fuzz: ${TOTAL} requests in ${secs.toFixed(1)} s; kinds ${JSON.stringify(Object.fromEntries(byKind))}; statuses ${JSON.stringify(Object.fromEntries(byStatus))}`);

  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad answers`);
  assert.equal(s.proc?.exitCode, null, 'the server exited');
  assert.equal((await admin.api('GET', '/api/auth/me')).status, 200, 'the server still answers, and the session survived');
  assert.ok(!/unhandled|Internal error/i.test(s.output), `the server logged an internal error:\n${s.output.slice(-2000)}`);
  assert.ok((byKind.get('well-formed-hostile') ?? 0) > 500, 'too few well-formed hostile bodies reached the handlers');

  // Nothing created or changed in the data dir's pools and VM configs; nothing outside touched.
  assert.deepEqual(snapshot(path.join(s.dataDir, 'pools')), dataBefore, 'the pool changed');
  assert.deepEqual(fs.readdirSync(path.join(s.dataDir, 'vms')).sort(), vmsBefore, 'VM configs changed');
  assert.deepEqual(snapshot(canary), canaryBefore, 'the canary dir outside the data dir changed');
  const marked = [...findMarked(os.tmpdir(), 2), ...findMarked(ROOT, 2), ...findMarked(s.dataDir, 4), ...findMarked('/etc', 1)];
  assert.deepEqual(marked, [], 'files named by the payloads exist');

  // Every one of them is in the audit log, with its result.
  const last = (await admin.ok('GET', '/api/admin/audit?limit=1')).entries[0];
  assert.ok(apiCalls > TOTAL * 0.98);
  assert.ok(last.id - auditBefore >= apiCalls, `only ${last.id - auditBefore} audit entries for ${apiCalls} API calls`);
  const errors = await admin.ok('GET', '/api/admin/audit?username=admin&result=error&limit=50');
  assert.ok(errors.entries.every((e: any) => e.status >= 400 && e.code), 'an audited failure without its code');
  assert.ok(errors.entries.every((e: any) => JSON.stringify(e.params ?? '').length < 6000), 'audit params are not bounded');
});
