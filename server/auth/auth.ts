/**
 * Authentication: users, browser sessions and API tokens. Session ids and tokens are random
 * secrets handed to the client once; only their SHA-256 is stored, so a copy of the database
 * does not let anyone log in. Every request and websocket upgrade goes through `authenticate`,
 * which reads the user row each time: disabling a user, changing a role or revoking a token takes
 * effect on the very next request (open websockets are closed by the caller, see api/admin.ts).
 *
 * A token carries a role (never above its owner's, and capped again at every use by the owner's
 * current role) and optionally one VM it is limited to.
 */
import type { IncomingMessage } from 'node:http';
import type Database from 'better-sqlite3';
import type { Db } from '../store/db';
import { ApiError } from '../../lib/errors';
import { ROLE_RANK, type Role } from '../../lib/schemas/auth';
import { dummyPasswordHash, hashPassword, randomSecret, sha256, verifyPassword } from './passwords';
import { RateLimiter } from './ratelimit';

export type { Role };

export interface User {
  id: number;
  username: string;
  /** Effective role: the account's role, capped by the token's for token requests. */
  role: Role;
  /** The account's own role (differs from `role` only for a token with a lower role). */
  accountRole?: Role;
  /** Set for requests authenticated by an API token. */
  tokenId?: number | null;
  /** A token limited to one VM: the request may see and touch only it. */
  vmScope?: string | null;
  /** SHA-256 of the session id for cookie requests: logout closes that session's websockets. */
  sessionKey?: string | null;
}

export const SESSION_COOKIE = 'vmm_session';
/** A session unused for this long ends. */
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000;
/** No session lives longer than this, used or not. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000;
/** last_seen_at / last_used_at are written at most this often, so reads don't turn into writes. */
const TOUCH_EVERY_MS = 60 * 1000;
const TOKEN_TOUCH_EVERY_MS = 10 * 1000;

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  disabled: number;
  created_at: string;
  max_vms: number | null;
  max_running: number | null;
}

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
  maxVms: number | null;
  maxRunning: number | null;
}

interface TokenRow {
  id: number;
  user_id: number;
  username: string;
  name: string;
  role: Role | null;
  owner_role: Role;
  vm_id: string | null;
  created_at: string;
  last_used_at: string | null;
  last_ip: string | null;
  expires_at: number | null;
  revoked: number;
}

export interface TokenRecord {
  id: number;
  userId: number;
  name: string;
  username: string;
  role: Role;
  vmId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  expiresAt: string | null;
  revoked: boolean;
}

export function minRole(a: Role, b: Role): Role {
  return ROLE_RANK[a] <= ROLE_RANK[b] ? a : b;
}

function toRecord(r: UserRow): UserRecord {
  return { id: r.id, username: r.username, role: r.role, disabled: !!r.disabled, createdAt: r.created_at, maxVms: r.max_vms, maxRunning: r.max_running };
}

function tokenRecord(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    username: r.username,
    role: minRole(r.role ?? r.owner_role, r.owner_role),
    vmId: r.vm_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    lastUsedIp: r.last_ip,
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at).toISOString(),
    revoked: !!r.revoked,
  };
}

const TOKEN_SELECT = `SELECT t.id, t.user_id, u.username, t.name, t.role, u.role AS owner_role, t.vm_id, t.created_at, t.last_used_at,
  t.last_ip, t.expires_at, t.revoked FROM api_tokens t JOIN users u ON u.id = t.user_id`;

export class Auth {
  /** Prepared statements, compiled once: auth runs on every request, and compiling SQL each time showed up in profiles. */
  private readonly stmts = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  private readonly loginLimiter = new RateLimiter({ max: 10, windowMs: 60_000 });

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** Creates the admin on first start. Returns the generated password when none was given. */
  async ensureAdmin(password: string | null): Promise<string | null> {
    const count = (this.stmt('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    if (count > 0) return null;
    const pw = password ?? randomSecret(15);
    await this.createUser('admin', pw, 'admin');
    return password ? null : pw;
  }

  async createUser(username: string, password: string, role: Role, quota: { maxVms?: number | null; maxRunning?: number | null } = {}): Promise<UserRecord> {
    const hash = await hashPassword(password);
    try {
      const info = this.db
        .prepare('INSERT INTO users (username, password_hash, role, created_at, max_vms, max_running) VALUES (?, ?, ?, ?, ?, ?)')
        .run(username, hash, role, new Date(this.now()).toISOString(), quota.maxVms ?? null, quota.maxRunning ?? null);
      return this.requireUser(Number(info.lastInsertRowid));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new ApiError('NAME_TAKEN', `A user named "${username}" already exists`, { issues: [{ path: ['username'], message: 'This name is taken' }] });
      }
      throw e;
    }
  }

  // ---- users (admin) --------------------------------------------------------------------------

  listUsers(): UserRecord[] {
    return (this.stmt('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toRecord);
  }

  getUser(id: number): UserRecord | null {
    const row = this.stmt('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? toRecord(row) : null;
  }

  requireUser(id: number): UserRecord {
    const u = this.getUser(id);
    if (!u) throw new ApiError('NOT_FOUND', 'No such user');
    return u;
  }

  /** Changes role / disabled / quotas. Refuses to leave the server without an enabled admin. */
  updateUser(id: number, patch: { role?: Role; disabled?: boolean; maxVms?: number | null; maxRunning?: number | null }): UserRecord {
    this.requireUser(id);
    return this.db.transaction(() => {
      if (patch.role !== undefined) this.stmt('UPDATE users SET role = ? WHERE id = ?').run(patch.role, id);
      if (patch.disabled !== undefined) this.stmt('UPDATE users SET disabled = ? WHERE id = ?').run(patch.disabled ? 1 : 0, id);
      if (patch.maxVms !== undefined) this.stmt('UPDATE users SET max_vms = ? WHERE id = ?').run(patch.maxVms, id);
      if (patch.maxRunning !== undefined) this.stmt('UPDATE users SET max_running = ? WHERE id = ?').run(patch.maxRunning, id);
      const admins = (this.stmt("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get() as { n: number }).n;
      if (admins === 0) throw new ApiError('INVALID_STATE', 'This would leave no enabled admin; make another user admin first');
      if (patch.disabled) this.killSessions(id);
      return this.requireUser(id);
    })();
  }

  async resetPassword(id: number, password: string): Promise<void> {
    this.requireUser(id);
    const hash = await hashPassword(password);
    this.db.transaction(() => {
      this.stmt('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, id);
      this.killSessions(id);
    })();
  }

  /** A user changing their own password: proves the current one; ends their other sessions. */
  async changePassword(user: User, current: string, next: string): Promise<void> {
    const row = this.stmt('SELECT * FROM users WHERE id = ?').get(user.id) as UserRow | undefined;
    if (!row || !(await verifyPassword(current, row.password_hash))) throw new ApiError('BAD_CREDENTIALS', 'The current password is wrong');
    const hash = await hashPassword(next);
    this.db.transaction(() => {
      this.stmt('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, user.id);
      this.stmt('DELETE FROM sessions WHERE user_id = ? AND id_hash != ?').run(user.id, user.sessionKey ?? '');
    })();
  }

  killSessions(userId: number): number {
    return this.stmt('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
  }

  sessionCount(userId: number): number {
    return (this.stmt('SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?').get(userId) as { n: number }).n;
  }

  // ---- login / sessions -----------------------------------------------------------------------

  /** Checks a password; throws BAD_CREDENTIALS or RATE_LIMITED. Same work whether or not the user exists. */
  async login(username: string, password: string, ip: string): Promise<{ user: User; sessionId: string }> {
    for (const key of [`u:${username}`, `ip:${ip}`]) {
      const wait = this.loginLimiter.retryAfterMs(key, this.now());
      if (wait > 0) throw new ApiError('RATE_LIMITED', `Too many login attempts; try again in ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
    }
    const row = this.stmt('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyPasswordHash()));
    if (!row || !ok || row.disabled) {
      this.loginLimiter.hit(`u:${username}`, this.now());
      this.loginLimiter.hit(`ip:${ip}`, this.now());
      throw new ApiError('BAD_CREDENTIALS', row?.disabled && ok ? 'This account is disabled' : 'Wrong user name or password');
    }
    this.loginLimiter.reset(`u:${username}`);
    const sessionId = randomSecret(32);
    const t = this.now();
    this.stmt('INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?)').run(sha256(sessionId), row.id, t, t, ip);
    return { user: { id: row.id, username: row.username, role: row.role, accountRole: row.role, sessionKey: sha256(sessionId) }, sessionId };
  }

  /** Ends a session; returns its key (to close its websockets). */
  logout(sessionId: string): string {
    const key = sha256(sessionId);
    this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(key);
    return key;
  }

  userForSession(sessionId: string): User | null {
    const t = this.now();
    const row = this.db
      .prepare(
        `SELECT s.id_hash, s.created_at, s.last_seen_at, u.id, u.username, u.role, u.disabled
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
      )
      .get(sha256(sessionId)) as (UserRow & { id_hash: string; created_at: number; last_seen_at: number }) | undefined;
    if (!row || row.disabled) return null;
    if (t - row.last_seen_at > SESSION_IDLE_MS || t - row.created_at > SESSION_ABSOLUTE_MS) {
      this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(row.id_hash);
      return null;
    }
    if (t - row.last_seen_at > TOUCH_EVERY_MS) this.stmt('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?').run(t, row.id_hash);
    return { id: row.id, username: row.username, role: row.role, accountRole: row.role, sessionKey: row.id_hash };
  }

  // ---- API tokens -----------------------------------------------------------------------------

  /** The caller (api/system.ts) has checked that `vmId` is visible to the owner. */
  createToken(owner: User, opts: { name: string; role?: Role; vmId?: string | null; expiresInDays?: number | null }): { token: string; record: TokenRecord } {
    const ownerRole = owner.accountRole ?? owner.role;
    const role = opts.role ?? ownerRole;
    if (ROLE_RANK[role] > ROLE_RANK[ownerRole]) throw new ApiError('FORBIDDEN', `A token cannot have more rights than its owner (${ownerRole})`);
    const token = `vmm_${randomSecret(32)}`;
    const expiresAt = opts.expiresInDays ? this.now() + opts.expiresInDays * 86_400_000 : null;
    const info = this.db
      .prepare('INSERT INTO api_tokens (token_hash, user_id, name, created_at, role, vm_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(sha256(token), owner.id, opts.name, new Date(this.now()).toISOString(), role, opts.vmId ?? null, expiresAt);
    return { token, record: this.getToken(Number(info.lastInsertRowid))! };
  }

  getToken(id: number): TokenRecord | null {
    const row = this.stmt(`${TOKEN_SELECT} WHERE t.id = ?`).get(id) as TokenRow | undefined;
    return row ? tokenRecord(row) : null;
  }

  listTokens(userId: number | null): TokenRecord[] {
    const rows = (userId === null
      ? this.stmt(`${TOKEN_SELECT} ORDER BY t.id DESC`).all()
      : this.stmt(`${TOKEN_SELECT} WHERE t.user_id = ? ORDER BY t.id DESC`).all(userId)) as TokenRow[];
    return rows.map(tokenRecord);
  }

  tokenCount(userId: number): number {
    return (this.stmt('SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ? AND revoked = 0').get(userId) as { n: number }).n;
  }

  /** Marks a token revoked (it stays listed, for the record). */
  revokeToken(id: number): TokenRecord {
    const t = this.getToken(id);
    if (!t) throw new ApiError('NOT_FOUND', 'No such token');
    this.stmt('UPDATE api_tokens SET revoked = 1 WHERE id = ?').run(id);
    return { ...t, revoked: true };
  }

  userForToken(token: string, ip?: string): User | null {
    if (token.length > 200) return null;
    const row = this.db
      .prepare(
        `SELECT t.id AS token_id, t.role AS token_role, t.vm_id, t.expires_at, t.last_used_at, t.last_ip,
                u.id, u.username, u.role, u.disabled
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked = 0`,
      )
      .get(sha256(token)) as
      | (UserRow & { token_id: number; token_role: Role | null; vm_id: string | null; expires_at: number | null; last_used_at: string | null; last_ip: string | null })
      | undefined;
    if (!row || row.disabled) return null;
    const t = this.now();
    if (row.expires_at !== null && t >= row.expires_at) return null;
    const last = row.last_used_at ? Date.parse(row.last_used_at) : 0;
    if (t - last > TOKEN_TOUCH_EVERY_MS || (ip && ip !== row.last_ip)) {
      this.stmt('UPDATE api_tokens SET last_used_at = ?, last_ip = ? WHERE id = ?').run(new Date(t).toISOString(), ip ?? row.last_ip, row.token_id);
    }
    return {
      id: row.id,
      username: row.username,
      role: minRole(row.token_role ?? row.role, row.role),
      accountRole: row.role,
      tokenId: row.token_id,
      vmScope: row.vm_id,
    };
  }

  /** Who is making this request: a session cookie or a bearer token. Null when neither is valid. */
  authenticate(req: IncomingMessage): User | null {
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      // A malformed Authorization header is a failed login, not a fallback to the cookie.
      return authz.startsWith('Bearer ') ? this.userForToken(authz.slice(7).trim(), req.socket.remoteAddress) : null;
    }
    const sid = readCookie(req, SESSION_COOKIE);
    return sid ? this.userForSession(sid) : null;
  }
}

export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{10,100}$/.test(v) ? v : null;
    }
  }
  return null;
}

export function sessionCookie(sessionId: string, secure: boolean): string {
  const attrs = [`${SESSION_COOKIE}=${sessionId}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${SESSION_ABSOLUTE_MS / 1000}`];
  if (secure) attrs.push('Secure');
  return attrs.join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
