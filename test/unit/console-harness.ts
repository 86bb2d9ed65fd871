/**
 * Test harness for the console websocket handlers: an HTTP server whose upgrade handler plays the part of
 * server/ws/upgrade.ts (session already checked) and routes /ws/vnc/<id> and /ws/serial/<id> to ours,
 * a fake QEMU VNC unix server, and a raw upgrade request for checking refusals.
 */
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { TicketStore } from '../../server/console/tickets';
import { handleVncUpgrade } from '../../server/vnc/proxy';
import { handleSerialUpgrade } from '../../server/serial/ws';
import type { SerialHub } from '../../server/serial/hub';
import type { ConsoleUser, ConsoleVmInfo } from '../../server/console/upgrade';

export const VM = '2f1c3a5e-8d4b-4c1a-9e7f-0a1b2c3d4e5f';
export const OTHER_VM = '3f1c3a5e-8d4b-4c1a-9e7f-0a1b2c3d4e5f';

export interface Harness {
  port: number;
  dir: string;
  tickets: TicketStore;
  vms: Map<string, ConsoleVmInfo>;
  user: ConsoleUser;
  url(kind: 'vnc' | 'serial', ticket: string, vmId?: string): string;
  close(): Promise<void>;
}

export async function startHarness(opts: { hub?: SerialHub; user?: ConsoleUser } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
  const tickets = new TicketStore();
  const vms = new Map<string, ConsoleVmInfo>();
  const h = { user: opts.user ?? { id: 1, username: 'admin', role: 'admin' as const } };
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/ws\/(vnc|serial)\/([^/]+)$/.exec(u.pathname);
    if (!m) return socket.destroy();
    const ctx = {
      user: h.user,
      vmId: decodeURIComponent(m[2]),
      ticket: u.searchParams.get('ticket'),
      getVm: (id: string) => vms.get(id) ?? null,
      tickets,
    };
    if (m[1] === 'vnc') handleVncUpgrade(req, socket, head, ctx);
    else handleSerialUpgrade(req, socket, head, { ...ctx, hub: opts.hub! });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    dir,
    tickets,
    vms,
    get user() {
      return h.user;
    },
    set user(u: ConsoleUser) {
      h.user = u;
    },
    url: (kind, ticket, vmId = VM) => `ws://127.0.0.1:${port}/ws/${kind}/${vmId}?ticket=${encodeURIComponent(ticket)}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  } as Harness;
}

/** A fake VNC server on a unix socket. `onConn` gets each accepted connection. */
export async function fakeUnixServer(sockPath: string, onConn: (s: net.Socket) => void): Promise<net.Server> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(sockPath, r));
  return srv;
}

/** Send a websocket upgrade by hand and return the HTTP status line + body of the response. */
export function rawUpgrade(port: number, pathAndQuery: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('connect', () =>
      c.write(
        `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n',
      ),
    );
    c.on('data', (d) => (got += d.toString('latin1')));
    c.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0);
      resolve({ status, body: got.split('\r\n\r\n').slice(1).join('\r\n\r\n') });
    });
    c.on('error', reject);
    setTimeout(() => c.destroy(), 3000).unref();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(5);
  }
}
