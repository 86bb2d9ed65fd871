/**
 * Helpers for the security tests: clients that act as a given user (session cookie or API token),
 * user creation through the admin API, websocket upgrades whose outcome (status, close code) can
 * be awaited, and the OpenAPI operation list the crawlers and the fuzzer walk.
 */
import crypto from 'node:crypto';
import WebSocket from 'ws';
import type { TestServer } from '../helpers/server';

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

export class Client {
  constructor(
    readonly s: TestServer,
    readonly auth: { cookie?: string; token?: string },
    readonly name = 'client',
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { origin: this.s.origin, ...extra };
    if (this.auth.cookie) h.cookie = this.auth.cookie;
    if (this.auth.token) h.authorization = `Bearer ${this.auth.token}`;
    return h;
  }

  async api<T = any>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    const res = await fetch(`${this.s.url}${path}`, {
      method,
      headers: this.headers({ ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extra }),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T };
  }

  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.api<T>(method, path, body);
    if (r.status >= 300) throw new Error(`${this.name}: ${method} ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  ws(path: string, extra: Record<string, string> = {}): Promise<WsOutcome> {
    return openWs(`ws://127.0.0.1:${this.s.port}${path}`, this.headers(extra));
  }
}

export interface WsOutcome {
  /** 101 when upgraded, else the HTTP status of the refusal (-1 on a network error). */
  status: number;
  body: string;
  ws: WebSocket | null;
  /** Resolves when the websocket closes (code and reason). */
  closed: Promise<{ code: number; reason: string; at: number }>;
  messages: any[];
}

export function openWs(url: string, headers: Record<string, string>, protocols?: string[]): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers });
    const messages: any[] = [];
    let closedResolve!: (v: { code: number; reason: string; at: number }) => void;
    const closed = new Promise<{ code: number; reason: string; at: number }>((r) => (closedResolve = r));
    ws.on('message', (d, isBinary) => {
      if (isBinary) return;
      try {
        messages.push(JSON.parse(d.toString()));
      } catch {
        messages.push(d.toString());
      }
    });
    ws.on('close', (code, reason) => closedResolve({ code, reason: reason.toString(), at: Date.now() }));
    ws.on('open', () => resolve({ status: 101, body: '', ws, closed, messages }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ws: null, closed, messages }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, ws: null, closed, messages }));
    });
    ws.on('error', () => resolve({ status: -1, body: '', ws: null, closed, messages }));
  });
}

export async function loginCookie(s: TestServer, username: string, password: string): Promise<string> {
  const res = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: s.origin },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login as ${username}: ${res.status} ${await res.text()}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0];
}

export interface TestUser {
  id: number;
  username: string;
  password: string;
  client: Client;
}

/** Creates a user through the admin API and signs them in. */
export async function makeUser(admin: Client, username: string, role: 'admin' | 'operator' | 'viewer', extra: Record<string, unknown> = {}): Promise<TestUser> {
  const password = `pw-${crypto.randomBytes(9).toString('base64url')}`;
  const u = await admin.ok('POST', '/api/admin/users', { username, role, password, ...extra });
  const cookie = await loginCookie(admin.s, username, password);
  return { id: u.id, username, password, client: new Client(admin.s, { cookie }, username) };
}

export interface Operation {
  method: string;
  path: string;
  op: any;
}

export async function operations(c: Client): Promise<{ doc: any; ops: Operation[] }> {
  const doc = await c.ok('GET', '/api/openapi.json');
  const ops: Operation[] = [];
  for (const [p, methods] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(methods)) ops.push({ method: m.toUpperCase(), path: p, op });
  return { doc, ops };
}

/** Fills path parameters: `{id}` etc. from `values`, anything else with a harmless placeholder. */
export function fillPath(p: string, values: Record<string, string> = {}): string {
  return p.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (values[name] !== undefined) return encodeURIComponent(values[name]);
    if (name === 'id' || name === 'vmId') return crypto.randomUUID();
    if (name === 'pool') return 'default';
    if (name === 'name') return 'no-such-volume.qcow2';
    if (name === 'action') return 'start';
    if (/^(uid|tid)$/.test(name)) return '999999';
    return 'x0';
  });
}

export const isMutation = (m: string) => m !== 'GET' && m !== 'HEAD';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls the audit log (as an admin) until an entry matches. */
export async function findAudit(admin: Client, query: Record<string, string>, pred: (e: any) => boolean, timeoutMs = 3000): Promise<any> {
  const qs = new URLSearchParams({ limit: '500', ...query }).toString();
  const deadline = Date.now() + timeoutMs;
  let entries: any[] = [];
  for (;;) {
    entries = (await admin.ok('GET', `/api/admin/audit?${qs}`)).entries;
    const hit = entries.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no audit entry matched ${JSON.stringify(query)}; got:\n${entries.slice(0, 15).map((e) => `${e.username} ${e.action} ${e.vmId} ${e.status} ${e.code}`).join('\n')}`);
    await sleep(100);
  }
}
