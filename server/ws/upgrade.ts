/**
 * The websocket upgrade router. Every upgrade is authenticated (session cookie or bearer token)
 * and its Origin checked before any handler sees it; /_next/* upgrades go to Next (hot reload in
 * dev). Unknown paths and failed checks get a plain HTTP error on the raw socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type { Auth } from '../auth/auth';
import { refuseUpgrade } from '../console/upgrade';
import type { TicketStore } from '../console/tickets';
import { handleVncUpgrade } from '../vnc/proxy';
import { handleSerialUpgrade } from '../serial/ws';
import type { SerialHub } from '../serial/hub';
import type { VmManager } from '../vm/manager';
import type { EventHub } from './events';

export interface UpgradeDeps {
  auth: Auth;
  originAllowed(req: IncomingMessage): boolean;
  events: EventHub;
  vms: VmManager;
  tickets: TicketStore;
  serial: SerialHub;
  next?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const Id = z.uuid();

export function makeUpgradeHandler(d: UpgradeDeps) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_next/') && d.next) return d.next(req, socket, head);
    const user = d.auth.authenticate(req);
    if (!user) return refuseUpgrade(socket, 'UNAUTHORIZED', 'Sign in first');
    // Browsers always send Origin on websocket upgrades; a foreign one is cross-site hijacking.
    if (!d.originAllowed(req)) return refuseUpgrade(socket, 'BAD_ORIGIN', 'Cross-origin websocket refused');
    if (url.pathname === '/ws/events') return d.events.handleUpgrade(req, socket, head, user);
    const m = /^\/ws\/(vnc|serial)\/([^/]+)$/.exec(url.pathname);
    if (!m || !Id.safeParse(m[2]).success) return refuseUpgrade(socket, 'NOT_FOUND', 'No such websocket endpoint');
    const ctx = {
      user,
      vmId: m[2],
      ticket: url.searchParams.get('ticket'),
      tickets: d.tickets,
      getVm: (id: string) => {
        if (!d.vms.store.get(id)) return null;
        const rt = d.vms.runtimes.get(id);
        return { running: !!rt && rt.status !== 'stopping', vncSocket: d.vms.paths(id).vnc, serialSocket: d.vms.paths(id).serial };
      },
    };
    if (m[1] === 'vnc') handleVncUpgrade(req, socket, head, ctx);
    else handleSerialUpgrade(req, socket, head, { ...ctx, hub: d.serial });
  };
}
