/**
 * Open console websockets (VNC and serial), by user, so that
 * - disabling a user, revoking a token, ending a session or taking away a VM grant closes the
 *   consoles it opened at once (cockpit: every channel lives and dies with the session);
 * - a user cannot hold more than `maxConsolesPerUser` consoles open (each one is a unix socket to a
 *   QEMU plus buffers; a script must not exhaust the server).
 *
 * The registry holds the raw socket the upgrade router hands to the console proxies (which own the
 * websocket itself); closing goes through the `ws` instance the library attaches to that socket,
 * with close code 4001 and a reason, and falls back to destroying the socket.
 */
import type { Duplex } from 'node:stream';
import type { User } from '../auth/auth';

export interface ConsoleEntry {
  user: User;
  vmId: string;
  kind: 'vnc' | 'serial';
  socket: Duplex;
  openedAt: number;
}

/** 4001: the server ended the session on purpose (auth changed); clients should not retry blindly. */
export const CLOSE_AUTH_CHANGED = 4001;

interface WsLike {
  readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** The `ws` library keeps its WebSocket on the socket under a symbol named "websocket". */
function websocketOf(socket: Duplex): WsLike | null {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    if (sym.description === 'websocket') {
      const ws = (socket as unknown as Record<symbol, unknown>)[sym] as WsLike | undefined;
      if (ws && typeof ws.close === 'function') return ws;
    }
  }
  return null;
}

/** Close a websocket (or a socket still in its handshake) now, with a reason the client can show. */
export function closeSocket(socket: Duplex, reason: string): void {
  const ws = websocketOf(socket);
  if (ws && ws.readyState === 1) {
    try {
      ws.close(CLOSE_AUTH_CHANGED, reason.slice(0, 120));
    } catch {
      socket.destroy();
      return;
    }
    // A peer that does not answer the close handshake is cut off shortly after.
    setTimeout(() => {
      if (!socket.destroyed) ws.terminate();
    }, 1000).unref();
    return;
  }
  socket.destroy();
}

export class ConsoleRegistry {
  private readonly entries = new Set<ConsoleEntry>();

  add(e: Omit<ConsoleEntry, 'openedAt'>): ConsoleEntry {
    const entry: ConsoleEntry = { ...e, openedAt: Date.now() };
    this.entries.add(entry);
    e.socket.once('close', () => this.entries.delete(entry));
    return entry;
  }

  countFor(userId: number): number {
    let n = 0;
    for (const e of this.entries) if (e.user.id === userId && !e.socket.destroyed) n++;
    return n;
  }

  list(): ConsoleEntry[] {
    return [...this.entries];
  }

  /** Closes every console whose entry matches; returns how many. */
  closeWhere(pred: (e: ConsoleEntry) => boolean, reason: string): number {
    let n = 0;
    for (const e of [...this.entries]) {
      if (!pred(e)) continue;
      this.entries.delete(e);
      closeSocket(e.socket, reason);
      n++;
    }
    return n;
  }
}

/** Closes, at once, every websocket (events and consoles) whose user matches. */
export type Kicker = (pred: (u: User) => boolean, reason: string) => number;

export function makeKicker(events: { closeWhere(pred: (u: User) => boolean, reason: string): number }, consoles: ConsoleRegistry): Kicker {
  return (pred, reason) => events.closeWhere(pred, reason) + consoles.closeWhere((e) => pred(e.user), reason);
}
