/**
 * POST /api/vms/{id}/console: issue a one-time ticket, and for VNC a fresh VNC password.
 *
 * QEMU's VNC runs with `password=on` on a unix socket only our proxy can reach; the ticket is the real
 * gate, the VNC password a second one (DES, 8 characters — QMP.md §8.3). Each VNC ticket sets the
 * password with `set_password` and lets it expire 30 s later with `expire_password +30` (expiry only
 * blocks NEW VNC connections; established ones stay).
 *
 * QEMU holds ONE VNC password per VM. If two consoles are opened within seconds of each other, a new
 * random password for the second would lock out the first one that has not finished its RFB handshake
 * yet. So a password still fresh for more than REUSE_MARGIN is reused (and its expiry pushed out),
 * while set_password is still sent every time, because a restarted QEMU has forgotten it.
 */
import { randomBytes } from 'node:crypto';
import type { ConsoleTicket } from '../../lib/schemas/console';
import type { ConsoleUser } from './upgrade';
import type { ConsoleKindName, TicketStore } from './tickets';

/** The slice of the QMP client this module needs (the real client lives in server/qemu/qmp/). */
export interface QmpLike {
  execute(cmd: string, args?: object): Promise<unknown>;
}

export interface IssueConsoleTicketArgs {
  user: ConsoleUser;
  vmId: string;
  kind: ConsoleKindName;
  /** Asked for by the client; viewers always get view-only regardless. */
  viewOnly?: boolean;
  /** Needed for VNC (may be null for serial). */
  qmp: QmpLike | null;
  tickets: TicketStore;
  now?: () => number;
}

/** The VNC password lives as long as the ticket: 30 s to finish the RFB handshake. */
const VNC_PASSWORD_TTL_S = 30;
/** Reuse the current password only if it has at least this much life left. */
const REUSE_MARGIN_MS = 10_000;
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

const vncPasswords = new Map<string, { password: string; expiresAtMs: number }>();

/** 8 characters (all VNC's DES auth looks at) from 57 symbols: ~46 bits, without modulo bias. */
export function randomVncPassword(): string {
  let out = '';
  while (out.length < 8) {
    for (const b of randomBytes(16)) {
      if (b < PASSWORD_ALPHABET.length * 4) out += PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length];
      if (out.length === 8) break;
    }
  }
  return out;
}

export function consoleUrl(kind: ConsoleKindName, vmId: string, ticket: string): string {
  return `/ws/${kind}/${encodeURIComponent(vmId)}?ticket=${encodeURIComponent(ticket)}`;
}

export async function issueConsoleTicket(args: IssueConsoleTicketArgs): Promise<ConsoleTicket> {
  const { user, vmId, kind, qmp, tickets } = args;
  const now = args.now ?? Date.now;
  const viewOnly = Boolean(args.viewOnly) || user.role === 'viewer';

  let password: string | null = null;
  if (kind === 'vnc') {
    if (!qmp) throw new Error('issueConsoleTicket: a VNC ticket needs the VM\'s QMP client');
    const cached = vncPasswords.get(vmId);
    password = cached && cached.expiresAtMs - now() > REUSE_MARGIN_MS ? cached.password : randomVncPassword();
    // Set before handing out the ticket: the browser connects the moment it has it.
    await qmp.execute('set_password', { protocol: 'vnc', password });
    await qmp.execute('expire_password', { protocol: 'vnc', time: `+${VNC_PASSWORD_TTL_S}` });
    vncPasswords.set(vmId, { password, expiresAtMs: now() + VNC_PASSWORD_TTL_S * 1000 });
  }

  const issued = tickets.issue({ userId: user.id, vmId, kind, viewOnly });
  return {
    url: consoleUrl(kind, vmId, issued.ticket),
    ticket: issued.ticket,
    expiresAt: issued.expiresAt,
    password,
    viewOnly,
  };
}

/** Forget a VM's cached VNC password (VM stopped or deleted). Harmless to skip: set_password runs anyway. */
export function forgetVncPassword(vmId: string): void {
  vncPasswords.delete(vmId);
}
