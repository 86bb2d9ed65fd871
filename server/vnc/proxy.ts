/**
 * /ws/vnc/<id>: a binary websocket (noVNC, subprotocol `binary`) piped to the VM's VNC unix socket.
 *
 * Admission: the router has checked session + Origin; here the one-time ticket is consumed and the VM
 * must be running, else the upgrade is refused with a plain HTTP error (403 TICKET_INVALID, 404, 409).
 * The unix socket is connected BEFORE the 101 goes out, so a dead QEMU gives a clean 502 instead of a
 * websocket that opens and immediately dies.
 *
 * Data path (this is where the throughput goes):
 * - VNC → browser: the unix socket is read with `onread` into a pooled buffer (up to 64 KiB per syscall),
 *   and that very buffer goes out as the frame payload: ws writes header + payload with one writev, no
 *   copy, no concat; the buffer returns to the pool when the write completes. Reads smaller than
 *   copyBelow are copied into an exact-size buffer instead, so a queued 20-byte frame never pins 64 KiB.
 * - Back-pressure VNC → browser: after each send, if the websocket's TCP socket holds more than
 *   HIGH_WATER unsent bytes, the unix socket stops reading (readStop; QEMU's writes then block/EAGAIN and
 *   QEMU coalesces updates) until that TCP socket emits 'drain'.
 * - Back-pressure browser → VNC: when unix.write() returns false, the websocket is paused (its TCP socket
 *   stops reading, so the browser's sends back up in TCP) until the unix socket drains.
 * - Closing either side closes the other; trailing data queued before the close still goes out first.
 *
 * View-only (viewer role or a view-only ticket) is enforced HERE, not only in noVNC: client input passes
 * through RfbViewOnlyFilter, which drops key/pointer/clipboard/resize/power messages.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { admit, consoleWss, guardSocket, heartbeat, rawSocketOf, refuseUpgrade, type ConsoleUpgradeContext } from '../console/upgrade';
import { RfbProtocolError, RfbViewOnlyFilter } from './rfb-filter';

export type { ConsoleUpgradeContext } from '../console/upgrade';

/** Tunables, exported for the benchmark and tests; the defaults are what the benchmark chose. */
export const VNC_TUNING = {
  /**
   * Bytes per read from the unix socket (= the largest websocket frame we send). 65532 + the 4-byte
   * header makes a frame of exactly 64 KiB on the wire, which measured best on both ends: larger frames
   * always straddle the receiver's 64 KiB reads and get re-assembled (copied) there, smaller ones pay
   * per-frame costs (bench/console-proxy/README.md).
   */
  readSize: 65532,
  /** Reads below this are copied to an exact-size buffer instead of sending the read buffer itself. */
  copyBelow: 16 * 1024,
  /** Unsent bytes on the websocket's TCP socket above which we stop reading from VNC. */
  highWater: 1024 * 1024,
};

export interface VncSessionStats {
  vmId: string;
  userId: number;
  viewOnly: boolean;
  startedAt: number;
  /** VNC → browser */
  bytesDown: number;
  /** browser → VNC (after the view-only filter) */
  bytesUp: number;
  /** Times the unix socket was paused because the browser was slow. */
  unixPauses: number;
  unixPaused: boolean;
  wsPaused: boolean;
  /** Unsent bytes on the websocket's TCP socket right now. */
  wsBuffered: number;
  droppedInput: number;
}

interface Session {
  stats: VncSessionStats;
  unix: net.Socket;
  ws: WebSocket | null;
}

const sessions = new Set<Session>();
const SEND_OPTS = { binary: true } as const;

/** Live sessions (for metrics and tests). */
export function vncSessions(): VncSessionStats[] {
  return [...sessions].map((s) => ({ ...s.stats, wsBuffered: s.ws ? rawSocketOf(s.ws)?.writableLength ?? 0 : 0 }));
}

export function handleVncUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: ConsoleUpgradeContext): void {
  guardSocket(socket);
  const adm = admit(socket, ctx, 'vnc', true);
  if (!adm) return;

  const stats: VncSessionStats = {
    vmId: ctx.vmId,
    userId: ctx.user.id,
    viewOnly: adm.viewOnly,
    startedAt: Date.now(),
    bytesDown: 0,
    bytesUp: 0,
    unixPauses: 0,
    unixPaused: false,
    wsPaused: false,
    wsBuffered: 0,
    droppedInput: 0,
  };
  let ws: WebSocket | null = null;
  let raw: (Duplex & { writableLength: number }) | null = null;
  let readBuf: Buffer | null = null;
  const { readSize, copyBelow, highWater } = VNC_TUNING;
  // Read buffers come back here once their frame is on the wire: reusing warm memory instead of a fresh
  // allocation per read saves the page faults and GC pressure that otherwise dominate the CPU cost.
  const pool: Buffer[] = [];
  const poolMax = Math.ceil(highWater / readSize) + 4;

  const resumeUnix = () => {
    stats.unixPaused = false;
    if (!unix.destroyed) unix.resume();
  };

  const unix = net.connect({
    path: adm.vm.vncSocket,
    onread: {
      // Called for every read: hand out a fresh buffer whenever the last one was sent as a frame.
      buffer: () => (readBuf ??= pool.pop() ?? Buffer.allocUnsafe(readSize)),
      callback: (n: number, buf: Uint8Array): boolean => {
        if (!ws || ws.readyState !== WebSocket.OPEN) return false;
        if (n >= copyBelow) {
          const whole = buf as Buffer;
          if (whole === readBuf) readBuf = null; // the frame owns it until written
          ws.send(whole.subarray(0, n), SEND_OPTS, () => {
            if (pool.length < poolMax) pool.push(whole);
          });
        } else {
          const frame = Buffer.allocUnsafe(n);
          frame.set(buf.subarray(0, n));
          ws.send(frame, SEND_OPTS);
        }
        stats.bytesDown += n;
        if (raw!.writableLength > highWater) {
          stats.unixPaused = true;
          stats.unixPauses++;
          unix.pause();
          raw!.once('drain', resumeUnix);
          return false;
        }
        return true;
      },
    },
  });
  // Nothing may flow until the websocket is open: QEMU's greeting waits in the kernel meanwhile.
  unix.pause();
  const session: Session = { stats, unix, ws: null };

  const onEarlyError = (err: Error) => {
    refuseUpgrade(socket, 'QEMU_FAILED', `The VM's VNC socket is not reachable (${(err as NodeJS.ErrnoException).code ?? err.message})`);
  };
  unix.once('error', onEarlyError);
  const onClientGone = () => unix.destroy();
  socket.once('close', onClientGone);

  unix.once('connect', () => {
    unix.off('error', onEarlyError);
    socket.off('close', onClientGone);
    if (socket.destroyed) {
      unix.destroy();
      return;
    }
    unix.on('error', () => {
      // 'close' follows and closes the websocket
    });
    consoleWss('vnc').handleUpgrade(req, socket, head, (client) => {
      ws = client;
      session.ws = client;
      raw = rawSocketOf(client);
      sessions.add(session);
      wire(session, client, unix, adm.viewOnly);
      unix.resume();
    });
  });
}

function wire(session: Session, ws: WebSocket, unix: net.Socket, viewOnly: boolean): void {
  const { stats } = session;
  const filter = viewOnly ? new RfbViewOnlyFilter() : null;
  heartbeat(ws);

  const resumeWs = () => {
    stats.wsPaused = false;
    ws.resume();
  };
  const toUnix = (data: Buffer) => {
    stats.bytesUp += data.length;
    if (!unix.write(data) && !stats.wsPaused) {
      stats.wsPaused = true;
      ws.pause();
      unix.once('drain', resumeWs);
    }
  };

  ws.on('message', (data: Buffer) => {
    if (unix.destroyed) return;
    if (!filter) return toUnix(data);
    try {
      for (const part of filter.push(data)) toUnix(part);
      stats.droppedInput = filter.dropped;
    } catch (e) {
      const reason = e instanceof RfbProtocolError ? e.message : 'view-only filter failed';
      ws.close(1008, reason.slice(0, 120));
      unix.destroy();
    }
  });
  ws.on('error', () => {
    // 'close' follows
  });
  ws.once('close', () => {
    sessions.delete(session);
    unix.destroy();
  });
  unix.once('close', (hadError) => {
    sessions.delete(session);
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      // Queued frames go out before the close frame; 1011 tells noVNC the far side failed.
      ws.close(hadError ? 1011 : 1000, hadError ? 'VNC connection failed' : 'VNC server closed the connection');
    }
  });
}
