/**
 * The audit log: who (user, token), from where (IP), what (action and its parameters), on which VM,
 * and the result (HTTP status and error code). The router records every mutating API call (see
 * http/router.ts `onFinish`), the upgrade router every console open and refusal.
 *
 * Append-only from the app's side: this module has an INSERT and SELECTs, nothing else, and the
 * database's triggers refuse UPDATE and DELETE on the table (store/db.ts migration 2).
 *
 * Parameters are stored redacted (anything that looks like a secret) and bounded (a hostile
 * 256 KiB body costs a few hundred bytes of log, not its size).
 */
import type { Db } from '../store/db';
import type { AuditEntry, AuditQuery } from '../../lib/schemas/admin';
import { log } from '../log';

export interface AuditRecord {
  userId: number | null;
  username: string | null;
  tokenId?: number | null;
  ip: string | null;
  /** e.g. "POST /api/vms/{id}/start", "console.open vnc". */
  action: string;
  method?: string | null;
  /** The route template, e.g. /api/vms/{id}/{action}. */
  route?: string | null;
  vmId?: string | null;
  params?: unknown;
  status: number;
  /** The error code; null on success. */
  code?: string | null;
}

const SECRET_KEY_RE = /pass(word|phrase)?|secret|token|ticket|cookie|authorization|credential|private|key$/i;
const MAX_STRING = 200;
const MAX_KEYS = 40;
const MAX_ITEMS = 20;
const MAX_DEPTH = 5;
const MAX_PARAMS_JSON = 4096;

/** A copy of `v` with secrets replaced and everything bounded in size and depth. */
export function redact(v: unknown, depth = 0, key = ''): unknown {
  if (key && SECRET_KEY_RE.test(key)) return v === undefined || v === null || v === '' ? v : '[redacted]';
  if (v === null || v === undefined || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string') return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…[${v.length} chars]` : v;
  if (typeof v === 'bigint') return String(v);
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(v)) {
    const out = v.slice(0, MAX_ITEMS).map((x) => redact(x, depth + 1));
    if (v.length > MAX_ITEMS) out.push(`…[${v.length - MAX_ITEMS} more]`);
    return out;
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(v as object);
    for (const k of keys.slice(0, MAX_KEYS)) {
      const safeKey = k.length > 64 ? `${k.slice(0, 64)}…` : k;
      out[safeKey] = redact((v as Record<string, unknown>)[k], depth + 1, k);
    }
    if (keys.length > MAX_KEYS) out['…'] = `${keys.length - MAX_KEYS} more keys`;
    return out;
  }
  return String(v);
}

function bounded(params: unknown): string | null {
  if (params === undefined) return null;
  let s = JSON.stringify(redact(params));
  if (s === undefined) return null;
  if (s.length > MAX_PARAMS_JSON) s = JSON.stringify({ truncated: s.slice(0, MAX_PARAMS_JSON) });
  return s;
}

interface Row {
  id: number;
  at: string;
  user_id: number | null;
  username: string | null;
  token_id: number | null;
  ip: string | null;
  action: string;
  method: string | null;
  route: string | null;
  vm_id: string | null;
  params: string | null;
  status: number;
  code: string | null;
  ok: number;
}

export class AuditLog {
  private readonly insert;

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    this.insert = db.prepare(
      `INSERT INTO audit_log (at, user_id, username, token_id, ip, action, method, route, vm_id, params, status, code, ok)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Never throws: a failed audit write is logged loudly, but must not turn a done action into an error. */
  record(r: AuditRecord): void {
    try {
      const ok = r.status < 400;
      this.insert.run(
        new Date(this.now()).toISOString(),
        r.userId,
        r.username?.slice(0, 64) ?? null,
        r.tokenId ?? null,
        r.ip?.slice(0, 64) ?? null,
        r.action.slice(0, 200),
        r.method ?? null,
        r.route?.slice(0, 200) ?? null,
        r.vmId?.slice(0, 64) ?? null,
        bounded(r.params),
        r.status,
        ok ? null : (r.code ?? 'ERROR'),
        ok ? 1 : 0,
      );
    } catch (e) {
      log.error(`AUDIT WRITE FAILED for ${r.action} by ${r.username ?? '-'}: ${(e as Error).message}`);
    }
  }

  query(q: AuditQuery): { entries: AuditEntry[]; nextBefore: number | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.username) (where.push('username = ?'), args.push(q.username));
    if (q.vmId) (where.push('vm_id = ?'), args.push(q.vmId));
    if (q.action) (where.push("action LIKE ? ESCAPE '\\'"), args.push(`%${q.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    if (q.result === 'ok') where.push('ok = 1');
    if (q.result === 'error') where.push('ok = 0');
    if (q.since) (where.push('at >= ?'), args.push(new Date(q.since).toISOString()));
    if (q.until) (where.push('at <= ?'), args.push(new Date(q.until).toISOString()));
    if (q.before) (where.push('id < ?'), args.push(q.before));
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit + 1) as Row[];
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    return {
      entries: page.map((r) => ({
        id: r.id,
        at: r.at,
        username: r.username,
        tokenId: r.token_id,
        ip: r.ip,
        action: r.action,
        method: r.method,
        route: r.route,
        vmId: r.vm_id,
        params: r.params ? safeParse(r.params) : null,
        status: r.status,
        code: r.code,
        ok: !!r.ok,
      })),
      nextBefore: more ? page[page.length - 1].id : null,
    };
  }
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** The audit entry for one finished mutating API call (wired as Router `onFinish`). */
export function recordCall(
  audit: AuditLog,
  call: {
    method: string;
    route: string;
    user: { id: number; username: string; tokenId?: number | null } | null;
    ip: string;
    params: Record<string, string>;
    query: Record<string, string>;
    body: unknown;
    status: number;
    code: string | null;
    note: { vmId?: string | null; actor?: string | null; extra?: Record<string, unknown> };
  },
  vmIdOf: (route: string, params: Record<string, string>, noted: string | null | undefined) => string | null,
): void {
  const action = `${call.method} ${call.route.replace('{action}', call.params.action ?? '{action}')}`;
  const params: Record<string, unknown> = {};
  if (Object.keys(call.params).length) params.path = call.params;
  if (Object.keys(call.query).length) params.query = call.query;
  if (call.body !== undefined) params.body = call.body;
  if (call.note.extra) params.result = call.note.extra;
  const claimed = typeof (call.body as { username?: unknown } | undefined)?.username === 'string' ? ((call.body as { username: string }).username) : null;
  audit.record({
    userId: call.user?.id ?? null,
    username: call.user?.username ?? call.note.actor ?? (call.route === '/api/auth/login' ? claimed : null),
    tokenId: call.user?.tokenId ?? null,
    ip: call.ip,
    action,
    method: call.method,
    route: call.route,
    vmId: vmIdOf(call.route, call.params, call.note.vmId),
    params: Object.keys(params).length ? params : undefined,
    status: call.status,
    code: call.code,
  });
}
