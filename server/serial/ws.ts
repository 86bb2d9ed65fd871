/**
 * /ws/serial/<id>: xterm.js ↔ the VM's serial port, through the SerialHub (which owns the one QEMU
 * connection and the history).
 *
 * On open the client gets the ring buffer's history as one binary frame, then live output as it comes.
 * Subscribing and snapshotting happen in the same tick, so no byte is shown twice or lost in between.
 * Client frames (text or binary) are input for the guest, unless the session is view-only.
 *
 * Back-pressure: the hub cannot slow down for one browser (QEMU drops what nobody reads, and other
 * viewers and the log need the bytes), so a browser that falls more than MAX_BUFFERED behind skips
 * output and is told how much it missed once it catches up. Its memory cost stays bounded.
 *
 * Unlike VNC, a VM that is not running may still be opened: the history is worth reading after a crash.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { admit, consoleWss, guardSocket, heartbeat, rawSocketOf, type ConsoleUpgradeContext } from '../console/upgrade';
import type { SerialHub } from './hub';

export type SerialUpgradeContext = ConsoleUpgradeContext & { hub: SerialHub };

/** A browser more than this far behind skips output until it catches up. */
export const MAX_BUFFERED = 2 * 1024 * 1024;
/** History sent on open (the whole ring by default). */
export const HISTORY_BYTES = 256 * 1024;

const BINARY = { binary: true } as const;

export function handleSerialUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: SerialUpgradeContext): void {
  guardSocket(socket);
  const adm = admit(socket, ctx, 'serial', false);
  if (!adm) return;
  const { hub, vmId } = ctx;
  const viewOnly = adm.viewOnly;

  consoleWss('serial').handleUpgrade(req, socket, head, (ws) => {
    heartbeat(ws);
    const raw = rawSocketOf(ws);
    let skipped = 0;

    const history = hub.tail(vmId, HISTORY_BYTES);
    if (history.length) ws.send(history, BINARY);
    const unsubscribe = hub.subscribe(vmId, (chunk) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if ((raw?.writableLength ?? ws.bufferedAmount) > MAX_BUFFERED) {
        skipped += chunk.length;
        return;
      }
      if (skipped) {
        ws.send(Buffer.from(`\r\n\x1b[33m[console: ${skipped} bytes of output skipped, the browser fell behind]\x1b[0m\r\n`), BINARY);
        skipped = 0;
      }
      ws.send(chunk, BINARY);
    });

    ws.on('message', (data: Buffer) => {
      if (viewOnly) return;
      hub.write(vmId, data);
    });
    ws.on('error', () => {
      // 'close' follows
    });
    ws.once('close', unsubscribe);
  });
}
