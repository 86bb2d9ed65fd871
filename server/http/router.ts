/**
 * A small typed router for the REST API. Each route declares its zod schemas (path params, query,
 * body, response); the router parses input with them at the boundary, turns every failure into
 * `{code, message, detail}` with a stable code, enforces auth and the Origin check, and the same
 * declarations generate /api/openapi.json. Handlers only ever see typed, validated input.
 *
 * Order of the checks, so that each answer reveals no more than the caller may know:
 *   credentials (401) → method (405) → Origin on mutations (403) → role (403) → path params (400)
 *   → per-object access, e.g. the VM grant (404, see http/guard.ts) → query, body (400/413/415)
 *   → quotas and references in the body → handler.
 * Every mutating call, whatever its outcome, is reported once to `onFinish` (the audit log).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ApiError, isApiError } from '../../lib/errors';
import type { User } from '../auth/auth';
import { log } from '../log';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<P, Q, B> {
  req: IncomingMessage;
  res: ServerResponse;
  user: User;
  params: P;
  query: Q;
  body: B;
  ip: string;
  /** What the audit entry should say beyond the request itself; handlers may fill it in. */
  audit: AuditNote;
}

export interface AuditNote {
  /** The VM the call was about (defaults to the {id} of /api/vms/{id}/...). */
  vmId?: string | null;
  /** For calls made before anyone is signed in (login): who it claimed to be. */
  actor?: string | null;
  /** Extra facts worth keeping (e.g. the id of what was created). */
  extra?: Record<string, unknown>;
}

/** One finished mutating call, as the audit log sees it. */
export interface FinishedCall {
  def: RouteDef | null;
  method: string;
  /** The route template when a route matched, else the URL path. */
  route: string;
  user: User | null;
  ip: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** The body as JSON-parsed (before validation), when it could be parsed. */
  body: unknown;
  status: number;
  code: string | null;
  note: AuditNote;
}

/** Authorization beyond the role, per route (grants, token scope, quotas): see http/guard.ts. */
export interface RouteGuard {
  /** After the path params parsed, before query and body: may throw (404 for an invisible VM). */
  params?(def: RouteDef, user: User, params: Record<string, unknown>): void;
  /** With everything parsed, just before the handler. */
  before?(def: RouteDef, ctx: RouteContext<any, any, any>): void | Promise<void>;
  /** After the handler, with its result or error: returns the result to send (e.g. filtered). */
  after?(def: RouteDef, ctx: RouteContext<any, any, any>, outcome: { result?: unknown; error?: unknown }): unknown;
}

export interface RouteDef<P = any, Q = any, B = any> {
  method: Method;
  /** OpenAPI-style path, e.g. /api/vms/{id}. */
  path: string;
  summary: string;
  tag: string;
  /** 'none' only for login; everything else needs a session or token. */
  auth?: 'none' | 'user';
  /** Minimum role for this route; defaults to viewer for GET and operator for mutations. */
  role?: 'admin' | 'operator' | 'viewer';
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response?: z.ZodType;
  /** How the handler's return value is sent: JSON (default), text, png, or nothing (204). */
  produces?: 'json' | 'text' | 'png' | 'none';
  status?: number;
  maxBodyBytes?: number;
  handler: (ctx: RouteContext<P, Q, B>) => Promise<unknown> | unknown;
}

export function route<P, Q, B>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> {
  return def;
}

interface Compiled {
  def: RouteDef;
  re: RegExp;
  names: string[];
}

const DEFAULT_MAX_BODY = 256 * 1024;
const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 } as const;

export interface RouterDeps {
  authenticate(req: IncomingMessage): User | null;
  originAllowed(req: IncomingMessage): boolean;
  onError?(err: unknown, req: IncomingMessage): void;
  guard?: RouteGuard;
  /** Called once for every mutating request that reached a route path (audit). Must not throw. */
  onFinish?(call: FinishedCall): void;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class Router {
  private readonly routes: Compiled[] = [];

  constructor(private readonly deps: RouterDeps) {}

  add(...defs: RouteDef[]): void {
    for (const def of defs) {
      const names: string[] = [];
      const pattern = def.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}|\{(\w+)\}/g, (_m, a, b) => {
        names.push(a ?? b);
        return '([^/]+)';
      });
      this.routes.push({ def, re: new RegExp(`^${pattern}$`), names });
    }
  }

  list(): RouteDef[] {
    return this.routes.map((r) => r.def);
  }

  /** Handles the request if a route matches the path; returns false if no route's path matches. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const matches = this.routes.map((r) => ({ r, m: r.re.exec(url.pathname) })).filter((x) => x.m);
    if (matches.length === 0) {
      if (!MUTATING.has(req.method ?? '')) return false;
      // A mutation aimed at no route at all is still an attempt worth an audit entry.
      const user = this.deps.authenticate(req);
      const err = user ? new ApiError('NOT_FOUND', `No API route ${url.pathname}`) : new ApiError('UNAUTHORIZED', 'Sign in first');
      this.sendError(res, err, req);
      this.deps.onFinish?.({
        def: null, method: req.method ?? '?', route: url.pathname.slice(0, 200), user, ip: req.socket.remoteAddress ?? 'unknown',
        params: {}, query: Object.fromEntries(url.searchParams), body: undefined, status: err.status, code: err.code, note: {},
      });
      return true;
    }
    // /api/vms/{id}/console beats /api/vms/{id}/{action}: the route with fewer parameters wins,
    // whatever order the routes were added in.
    const hit = matches.filter((x) => x.r.def.method === req.method).sort((a, b) => a.r.names.length - b.r.names.length)[0];
    const ip = req.socket.remoteAddress ?? 'unknown';
    const note: AuditNote = {};
    const rawParams: Record<string, string> = {};
    let user: User | null = null;
    let rawBody: unknown;
    let status = 500;
    let code: string | null = 'INTERNAL';
    // For the audit entry even when the call is refused before its params are validated.
    if (hit) hit.r.names.forEach((n, i) => (rawParams[n] = lenientDecode(hit.m![i + 1])));
    try {
      // Authenticate before saying anything about the route, so that probing learns nothing.
      const authNone = hit?.r.def.auth === 'none';
      user = authNone ? null : this.deps.authenticate(req);
      if (!authNone && !user) throw new ApiError('UNAUTHORIZED', 'Sign in first');
      if (!hit) throw new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not supported on ${url.pathname}`);
      const { def, names } = hit.r;
      if (def.method !== 'GET' && !this.deps.originAllowed(req)) throw new ApiError('BAD_ORIGIN', 'Cross-origin request refused');
      if (user) checkRole(def, user);
      const decoded: Record<string, string> = {};
      names.forEach((n, i) => (decoded[n] = safeDecode(hit.m![i + 1])));
      const params = parseWith(def.params, decoded, 'path');
      if (user) this.deps.guard?.params?.(def, user, (params ?? {}) as Record<string, unknown>);
      const query = parseWith(def.query, Object.fromEntries(url.searchParams), 'query');
      let body: unknown;
      if (def.body) {
        rawBody = await readJson(req, def.maxBodyBytes ?? DEFAULT_MAX_BODY);
        body = parseWith(def.body, rawBody, 'body');
      } else {
        body = await drain(req);
      }
      const ctx: RouteContext<any, any, any> = { req, res, user: user as User, params, query, body, ip, audit: note };
      if (user) await this.deps.guard?.before?.(def, ctx);
      let result: unknown;
      try {
        result = await def.handler(ctx);
      } catch (error) {
        if (user && this.deps.guard?.after) this.deps.guard.after(def, ctx, { error });
        throw error;
      }
      if (user && this.deps.guard?.after) result = this.deps.guard.after(def, ctx, { result });
      if (!res.headersSent) send(res, def, result);
      status = res.statusCode;
      code = null;
    } catch (err) {
      const apiErr = isApiError(err) ? err : null;
      status = apiErr?.status ?? 500;
      code = apiErr?.code ?? 'INTERNAL';
      this.sendError(res, err, req);
    } finally {
      if (MUTATING.has(req.method ?? '') && this.deps.onFinish) {
        const def = hit?.r.def ?? null;
        this.deps.onFinish({
          def,
          method: req.method ?? '?',
          route: def?.path ?? url.pathname,
          user,
          ip,
          params: rawParams,
          query: Object.fromEntries(url.searchParams),
          body: rawBody,
          status,
          code,
          note,
        });
      }
    }
    return true;
  }

  sendError(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    const apiErr = isApiError(err) ? err : new ApiError('INTERNAL', 'Internal error; see the server log');
    if (!isApiError(err)) this.deps.onError?.(err, req);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, apiErr.status, apiErr.toBody());
  }
}

export function requiredRole(def: RouteDef): 'admin' | 'operator' | 'viewer' {
  return def.role ?? (def.method === 'GET' ? 'viewer' : 'operator');
}

function checkRole(def: RouteDef, user: User): void {
  const needed = requiredRole(def);
  if (ROLE_RANK[user.role] < ROLE_RANK[needed]) throw new ApiError('FORBIDDEN', `This needs the ${needed} role`);
}

function lenientDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'Malformed path');
  }
}

export function parseWith<T>(schema: z.ZodType<T> | undefined, input: unknown, where: string): T {
  if (!schema) return undefined as T;
  let r: ReturnType<typeof schema.safeParse>;
  try {
    r = schema.safeParse(input);
  } catch (e) {
    // A refinement that throws on odd input is a bug in the schema, but the input is what is odd:
    // refuse it as invalid rather than answer 500 (and say so in the log).
    log.warn(`validation of the ${where} threw: ${(e as Error)?.stack ?? String(e)}`);
    throw new ApiError('VALIDATION_FAILED', `Invalid ${where}`, { where, issues: [{ path: [], message: 'Invalid input' }] });
  }
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message }));
  const first = issues[0];
  const at = first.path.length ? ` (${where}.${first.path.join('.')})` : ` (${where})`;
  throw new ApiError('VALIDATION_FAILED', `${first.message}${at}`, { where, issues });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError('BODY_TOO_LARGE', `The body may be at most ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError('BODY_TOO_LARGE', `The body may be at most ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const buf = await readBody(req, limit);
  if (buf.length === 0) return {};
  if (type !== 'application/json') throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new ApiError('INVALID_JSON', 'The body is not valid JSON');
  }
}

/** Routes without a body still must not leave one unread (keep-alive would desync). */
async function drain(req: IncomingMessage): Promise<undefined> {
  await readBody(req, 64 * 1024);
  return undefined;
}

function send(res: ServerResponse, def: RouteDef, result: unknown): void {
  const status = def.status ?? (def.method === 'POST' && def.produces !== 'none' ? 200 : 200);
  switch (def.produces ?? 'json') {
    case 'none':
      res.writeHead(204, { 'cache-control': 'no-store' }).end();
      return;
    case 'text':
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(String(result ?? ''));
      return;
    case 'png':
      res.writeHead(status, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(result as Buffer);
      return;
    default:
      sendJson(res, status, result);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
