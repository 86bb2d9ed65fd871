/**
 * One-time console tickets: the only way onto /ws/vnc/<id> and /ws/serial/<id>.
 *
 * POST /api/vms/{id}/console issues one; the websocket upgrade consumes it. A ticket is 32 random bytes
 * (base64url), valid for 30 s, usable once, and bound to the user, the VM and the console kind. It rides
 * in the URL (browsers cannot set headers on a websocket), so it must be worthless once used or stale.
 *
 * Only a SHA-256 of each ticket is kept, and lookups go by that hash: the map lookup never compares the
 * secret itself byte by byte, so response timing tells an attacker nothing about a guess. A ticket is
 * burnt on its first presentation, even when the binding does not match: a ticket shown for the wrong
 * VM or user has leaked, and must not work afterwards either.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type ConsoleKindName = 'vnc' | 'serial';

export interface TicketBinding {
  userId: number;
  vmId: string;
  kind: ConsoleKindName;
}

export interface TicketRequest extends TicketBinding {
  viewOnly: boolean;
}

export interface IssuedTicket {
  ticket: string;
  /** ISO 8601, the shape ConsoleTicket.expiresAt has on the wire. */
  expiresAt: string;
  expiresAtMs: number;
}

export interface TicketStoreOptions {
  /** Validity; default 30 s. */
  ttlMs?: number;
  /** Clock injection for tests. */
  now?: () => number;
  /** Outstanding tickets beyond this evict the oldest (a client hammering POST /console). Default 10000. */
  maxTickets?: number;
}

interface Stored extends TicketRequest {
  expiresAtMs: number;
}

const TICKET_BYTES = 32;
/** base64url of 32 bytes, no padding. */
const TICKET_RE = /^[A-Za-z0-9_-]{43}$/;

export class TicketStore {
  private readonly byHash = new Map<string, Stored>(); // insertion order = issue order
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly maxTickets: number;

  constructor(opts: TicketStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.maxTickets = opts.maxTickets ?? 10_000;
  }

  issue(req: TicketRequest): IssuedTicket {
    this.sweep();
    while (this.byHash.size >= this.maxTickets) {
      const oldest = this.byHash.keys().next().value as string;
      this.byHash.delete(oldest);
    }
    const ticket = randomBytes(TICKET_BYTES).toString('base64url');
    const expiresAtMs = this.now() + this.ttlMs;
    this.byHash.set(hash(ticket), {
      userId: req.userId,
      vmId: req.vmId,
      kind: req.kind,
      viewOnly: req.viewOnly,
      expiresAtMs,
    });
    return { ticket, expiresAt: new Date(expiresAtMs).toISOString(), expiresAtMs };
  }

  /**
   * Redeem a ticket. Returns its grant when the ticket exists, is fresh and matches the binding;
   * otherwise null. Either way the ticket is gone afterwards.
   */
  consume(ticket: string | null | undefined, want: TicketBinding): { viewOnly: boolean } | null {
    if (typeof ticket !== 'string' || !TICKET_RE.test(ticket)) return null;
    const key = hash(ticket);
    const t = this.byHash.get(key);
    if (!t) return null;
    this.byHash.delete(key);
    if (this.now() >= t.expiresAtMs) return null;
    const ok = t.userId === want.userId && t.kind === want.kind && sameString(t.vmId, want.vmId);
    return ok ? { viewOnly: t.viewOnly } : null;
  }

  /** Drop expired tickets; called on every issue, exposed for a periodic timer if wanted. */
  sweep(): void {
    const now = this.now();
    for (const [key, t] of this.byHash) if (now >= t.expiresAtMs) this.byHash.delete(key);
  }

  /** Outstanding tickets (for tests and metrics). */
  get size(): number {
    return this.byHash.size;
  }
}

function hash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
