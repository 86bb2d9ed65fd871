/**
 * The benchmark's "our proxy" process: the real handleVncUpgrade behind a bare HTTP server, exactly as
 * server/index.ts mounts it minus session auth (the router's job, not on the data path). It runs in its
 * own process so that, like websockify, it gets its own core and its CPU can be measured on its own.
 *
 *   node --import tsx bench/console-proxy/proxy-server.ts <vnc-unix-socket>
 *
 * Prints `{"port":N}` on stdout when listening. Endpoints for the driver (run.mjs):
 *   POST /ticket → {"ticket": "..."} a fresh one-time VNC ticket for the bench user and VM
 *   GET  /cpu    → process.cpuUsage() in microseconds
 *   POST /tune   → JSON body merged into VNC_TUNING (for exploring the knobs; not used by default)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TicketStore } from '../../server/console/tickets';
import { handleVncUpgrade, VNC_TUNING } from '../../server/vnc/proxy';

const vncSocket = process.argv[2];
if (!vncSocket) {
  console.error('usage: proxy-server.ts <vnc-unix-socket>');
  process.exit(2);
}

const VM_ID = 'bench-vm';
const user = { id: 1, username: 'bench', role: 'admin' as const };
const tickets = new TicketStore();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/ticket') {
    const { ticket } = tickets.issue({ userId: user.id, vmId: VM_ID, kind: 'vnc', viewOnly: false });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ticket }));
    return;
  }
  if (req.method === 'GET' && req.url === '/cpu') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(process.cpuUsage()));
    return;
  }
  if (req.method === 'POST' && req.url === '/tune') {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      Object.assign(VNC_TUNING, JSON.parse(body || '{}'));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(VNC_TUNING));
    });
    return;
  }
  res.writeHead(404).end();
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://bench');
  const m = /^\/ws\/vnc\/([^/]+)$/.exec(url.pathname);
  if (!m) {
    socket.destroy();
    return;
  }
  handleVncUpgrade(req, socket, head, {
    user,
    vmId: decodeURIComponent(m[1]),
    ticket: url.searchParams.get('ticket'),
    getVm: (id) => (id === VM_ID ? { running: true, vncSocket, serialSocket: '' } : null),
    tickets,
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});

// The driver ends us with SIGTERM; close cleanly so nothing lingers.
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
});
