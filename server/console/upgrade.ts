/**
 * What the VNC and serial websocket handlers share: the context the upgrade router hands them, the
 * ticket check, refusing an upgrade with a plain HTTP response on the raw socket, the websocket server
 * that speaks noVNC's `binary` subprotocol, and a heartbeat so dead peers behind proxies get noticed.
 *
 * The upgrade router (server/ws/upgrade.ts) has already checked the session and the Origin; the ticket
 * is the second, per-connection gate.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERROR_STATUS, type ErrorCode } from '../../lib/errors';
import type { ConsoleKindName, TicketStore } from './tickets';

export interface ConsoleUser {
  id: number;
  username: string;
  role: 'admin' | 'operator' | 'viewer';
}

export interface ConsoleVmInfo {
  running: boolean;
  vncSocket: string;
  serialSocket: string;
}

export interface ConsoleUpgradeContext {
  user: ConsoleUser;
  vmId: string;
  /** From ?ticket= */
  ticket: string | null;
  getVm(vmId: string): ConsoleVmInfo | null;
  tickets: TicketStore;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 502: 'Bad Gateway' };

/** Answer an upgrade request with an HTTP error (the stable error body) and close the socket. */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const status = ERROR_STATUS[code];
  const body = JSON.stringify({ code, message });
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      'Cache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
  // end() flushes the response; destroy soon after in case the peer never closes its side.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export interface Admission {
  vm: ConsoleVmInfo;
  /** The ticket asked for view-only, or the user is a viewer: either way no input reaches the guest. */
  viewOnly: boolean;
}

/**
 * Consume the ticket and look the VM up. On failure the upgrade has been refused and null comes back.
 * The ticket is checked first so that nothing about the VM is revealed to a request without one.
 */
export function admit(socket: Duplex, ctx: ConsoleUpgradeContext, kind: ConsoleKindName, needRunning: boolean): Admission | null {
  const grant = ctx.tickets.consume(ctx.ticket, { userId: ctx.user.id, vmId: ctx.vmId, kind });
  if (!grant) {
    refuseUpgrade(socket, 'TICKET_INVALID', 'The console ticket is missing, expired, already used, or not for this VM');
    return null;
  }
  const vm = ctx.getVm(ctx.vmId);
  if (!vm) {
    refuseUpgrade(socket, 'VM_NOT_FOUND', 'No such VM');
    return null;
  }
  if (needRunning && !vm.running) {
    refuseUpgrade(socket, 'VM_NOT_RUNNING', 'The VM is not running');
    return null;
  }
  return { vm, viewOnly: grant.viewOnly || ctx.user.role === 'viewer' };
}

/** noVNC asks for `binary`; echo it when offered. Anything else gets no subprotocol (plain binary frames). */
export function pickProtocol(protocols: Set<string>): string | false {
  return protocols.has('binary') ? 'binary' : false;
}

let vncWss: WebSocketServer | null = null;
let serialWss: WebSocketServer | null = null;

/** One noServer WebSocketServer per console kind (they differ only in the largest message accepted). */
export function consoleWss(kind: ConsoleKindName): WebSocketServer {
  if (kind === 'vnc') {
    // Client→server RFB messages are small; the largest is a clipboard paste.
    vncWss ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 16 << 20, handleProtocols: pickProtocol });
    return vncWss;
  }
  serialWss ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 1 << 20, handleProtocols: pickProtocol });
  return serialWss;
}

/**
 * Ping every `intervalMs`; terminate when the previous ping got no pong. Browsers answer pings by
 * themselves. Returns the stop function (also called on close).
 */
export function heartbeat(ws: WebSocket, intervalMs = 30_000): () => void {
  let alive = true;
  ws.on('pong', () => {
    alive = true;
  });
  const t = setInterval(() => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    try {
      ws.ping();
    } catch {
      // closing already
    }
  }, intervalMs);
  t.unref();
  const stop = () => clearInterval(t);
  ws.once('close', stop);
  return stop;
}

/** The underlying TCP socket of a ws connection (ws keeps it in a private field; stable across ws 8.x). */
export function rawSocketOf(ws: WebSocket): Duplex & { writableLength: number } {
  return (ws as unknown as { _socket: Duplex & { writableLength: number } })._socket;
}

/** Wrap a request's upgrade in `socket` errors so a client vanishing mid-handshake cannot crash us. */
export function guardSocket(socket: Duplex): void {
  if (socket.listenerCount('error') === 0) socket.on('error', () => {});
}

export type { IncomingMessage, Duplex };
