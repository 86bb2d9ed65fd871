/**
 * Authentication: users, browser sessions and API tokens. Session ids and tokens are random
 * secrets handed to the client once; only their SHA-256 is stored, so a copy of the database
 * does not let anyone log in. Every request and websocket upgrade goes through `authenticate`.
 */
import type { IncomingMessage } from 'node:http';
import type { Db } from '../store/db';
import { ApiError } from '../../lib/errors';
import { dummyPasswordHash, hashPassword, randomSecret, sha256, verifyPassword } from './passwords';
import { RateLimiter } from './ratelimit';

export type Role = 'admin' | 'operator' | 'viewer';
export interface User {
  id: number;
  username: string;
  role: Role;
}

export const SESSION_COOKIE = 'vmm_session';
/** A session unused for this long ends. */
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000;
/** No session lives longer than this, used or not. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000;
/** last_seen_at is written at most this often, so reads don't turn into writes. */
const TOUCH_EVERY_MS = 60 * 1000;

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  disabled: number;
}

export class Auth {
  private readonly loginLimiter = new RateLimiter({ max: 10, windowMs: 60_000 });

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** Creates the admin on first start. Returns the generated password when none was given. */
  async ensureAdmin(password: string | null): Promise<string | null> {
    const count = (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    if (count > 0) return null;
    const pw = password ?? randomSecret(15);
    await this.createUser('admin', pw, 'admin');
    return password ? null : pw;
  }

  async createUser(username: string, password: string, role: Role): Promise<User> {
    const hash = await hashPassword(password);
    const info = this.db
      .prepare('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)')
      .run(username, hash, role, new Date(this.now()).toISOString());
    return { id: Number(info.lastInsertRowid), username, role };
  }

  /** Checks a password; throws BAD_CREDENTIALS or RATE_LIMITED. Same work whether or not the user exists. */
  async login(username: string, password: string, ip: string): Promise<{ user: User; sessionId: string }> {
    for (const key of [`u:${username}`, `ip:${ip}`]) {
      const wait = this.loginLimiter.retryAfterMs(key, this.now());
      if (wait > 0) throw new ApiError('RATE_LIMITED', `Too many login attempts; try again in ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
    }
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyPasswordHash()));
    if (!row || !ok || row.disabled) {
      this.loginLimiter.hit(`u:${username}`, this.now());
      this.loginLimiter.hit(`ip:${ip}`, this.now());
      throw new ApiError('BAD_CREDENTIALS', row?.disabled && ok ? 'This account is disabled' : 'Wrong user name or password');
    }
    this.loginLimiter.reset(`u:${username}`);
    const sessionId = randomSecret(32);
    const t = this.now();
    this.db.prepare('INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?)').run(sha256(sessionId), row.id, t, t, ip);
    return { user: { id: row.id, username: row.username, role: row.role }, sessionId };
  }

  logout(sessionId: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(sha256(sessionId));
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
      this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(row.id_hash);
      return null;
    }
    if (t - row.last_seen_at > TOUCH_EVERY_MS) this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?').run(t, row.id_hash);
    return { id: row.id, username: row.username, role: row.role };
  }

  createToken(user: User, name: string): { token: string; id: number } {
    const token = `vmm_${randomSecret(32)}`;
    const info = this.db
      .prepare('INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (?, ?, ?, ?)')
      .run(sha256(token), user.id, name, new Date(this.now()).toISOString());
    return { token, id: Number(info.lastInsertRowid) };
  }

  userForToken(token: string): User | null {
    const row = this.db
      .prepare(
        `SELECT t.id AS token_id, u.id, u.username, u.role, u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ? AND t.revoked = 0`,
      )
      .get(sha256(token)) as (UserRow & { token_id: number }) | undefined;
    if (!row || row.disabled) return null;
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(new Date(this.now()).toISOString(), row.token_id);
    return { id: row.id, username: row.username, role: row.role };
  }

  /** Who is making this request: a session cookie or a bearer token. Null when neither is valid. */
  authenticate(req: IncomingMessage): User | null {
    const authz = req.headers.authorization;
    if (authz?.startsWith('Bearer ')) return this.userForToken(authz.slice(7).trim());
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
