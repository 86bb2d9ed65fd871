/**
 * The websocket upgrade router. Every upgrade is authenticated (session cookie or bearer token)
 * and its Origin checked before any handler sees it; /_next/* upgrades go to Next (hot reload in
 * dev). Unknown paths and failed checks get a plain HTTP error on the raw socket.
 *
 * Consoles (/ws/vnc/{id}, /ws/serial/{id}) additionally need: a VM the user may see (else 404, as
 * for a VM that does not exist), fewer than the per-user cap of open consoles (429), and then the
 * one-time ticket, checked by the console proxy. Every console open and refusal is audited; open
 * consoles are registered by user so that auth changes close them (registry.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type { ErrorCode } from '../../lib/errors';
import type { Auth, User } from '../auth/auth';
import { refuseUpgrade } from '../console/upgrade';
import type { TicketStore } from '../console/tickets';
import { handleVncUpgrade } from '../vnc/proxy';
import { handleSerialUpgrade } from '../serial/ws';
import type { SerialHub } from '../serial/hub';
import type { VmManager } from '../vm/manager';
import type { AuditRecord } from '../audit/audit';
import type { EventHub } from './events';
import type { ConsoleRegistry } from './registry';

export interface UpgradeDeps {
  auth: Pick<Auth, 'authenticate'>;
  originAllowed(req: IncomingMessage): boolean;
  events: EventHub;
  vms: VmManager;
  tickets: TicketStore;
  serial: SerialHub;
  next?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Per-VM visibility (grants, token scope); default: everyone sees everything. */
  canSeeVm?(user: User, vmId: string): boolean;
  consoles?: ConsoleRegistry;
  maxConsolesPerUser?: number;
  audit?(r: AuditRecord): void;
}

const Id = z.uuid();

export function makeUpgradeHandler(d: UpgradeDeps) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_next/') && d.next) return d.next(req, socket, head);
    const m = /^\/ws\/(vnc|serial)\/([^/]+)$/.exec(url.pathname);
    const ip = req.socket.remoteAddress ?? null;
    let user: User | null = null;
    // Console attempts are audited whatever happens to them.
    const auditConsole = (status: number, code: ErrorCode | null) => {
      if (!m || !d.audit) return;
      d.audit({
        userId: user?.id ?? null,
        username: user?.username ?? null,
        tokenId: user?.tokenId ?? null,
        ip,
        action: `console.open ${m[1]}`,
        method: 'GET',
        route: `/ws/${m[1]}/{id}`,
        vmId: m[2].slice(0, 64),
        status,
        code,
      });
    };
    const refuse = (code: ErrorCode, status: number, message: string) => {
      auditConsole(status, code);
      refuseUpgrade(socket, code, message);
    };

    user = d.auth.authenticate(req);
    if (!user) return refuse('UNAUTHORIZED', 401, 'Sign in first');
    // Browsers always send Origin on websocket upgrades; a foreign one is cross-site hijacking.
    if (!d.originAllowed(req)) return refuse('BAD_ORIGIN', 403, 'Cross-origin websocket refused');
    if (url.pathname === '/ws/events') return d.events.handleUpgrade(req, socket, head, user);
    if (!m || !Id.safeParse(m[2]).success) return refuse('NOT_FOUND', 404, 'No such websocket endpoint');
    const vmId = m[2];
    const kind = m[1] as 'vnc' | 'serial';
    if (d.canSeeVm && !d.canSeeVm(user, vmId)) return refuse('VM_NOT_FOUND', 404, 'No such VM');
    if (d.consoles && d.maxConsolesPerUser !== undefined && d.consoles.countFor(user.id) >= d.maxConsolesPerUser) {
      return refuse('RATE_LIMITED', 429, `You have ${d.maxConsolesPerUser} consoles open already; close one first`);
    }
    d.consoles?.add({ user, vmId, kind, socket });

    // The proxy consumes the ticket; its verdict is the audited result of the console open.
    const tickets = Object.create(d.tickets) as TicketStore;
    tickets.consume = (ticket, want) => {
      const grant = d.tickets.consume(ticket, want);
      auditConsole(grant ? 101 : 403, grant ? null : 'TICKET_INVALID');
      return grant;
    };
    const ctx = {
      user,
      vmId,
      ticket: url.searchParams.get('ticket'),
      tickets,
      getVm: (id: string) => {
        if (!d.vms.store.get(id)) return null;
        const rt = d.vms.runtimes.get(id);
        return { running: !!rt && rt.status !== 'stopping', vncSocket: d.vms.paths(id).vnc, serialSocket: d.vms.paths(id).serial };
      },
    };
    if (kind === 'vnc') handleVncUpgrade(req, socket, head, ctx);
    else handleSerialUpgrade(req, socket, head, { ...ctx, hub: d.serial });
  };
}
