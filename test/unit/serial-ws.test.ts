/**
 * /ws/serial end to end: a fake QEMU serial socket read by a real SerialHub, our upgrade handler, and a
 * real `ws` client. History on open (and again after a "reload"), live output, input to the guest,
 * view-only input ignored, a stopped VM still shows its history, and refusals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { SerialHub } from '../../server/serial/hub';
import { fakeUnixServer, rawUpgrade, sleep, startHarness, until, VM, type Harness } from './console-harness';

let h: Harness;
let hub: SerialHub;
let guest: net.Socket | null = null;
let srv: net.Server;
const typed: Buffer[] = [];
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serial-ws-logs-'));

before(async () => {
  h = await startHarness({ hub: (hub = new SerialHub({ logDir, minBackoffMs: 10 })) });
  const sock = path.join(h.dir, 'serial.sock');
  h.vms.set(VM, { running: true, vncSocket: path.join(h.dir, 'vnc.sock'), serialSocket: sock });
  srv = await fakeUnixServer(sock, (s) => {
    guest = s;
    // A tiny "shell": echo what is typed, answer `uname`.
    s.on('data', (d) => {
      typed.push(d);
      s.write(d);
      if (Buffer.concat(typed).toString().endsWith('uname\r')) s.write('\r\nLinux\r\n# ');
    });
  });
  hub.attach(VM, sock);
  await until(() => hub.isConnected(VM));
  guest!.write('boot line 1\r\nboot line 2\r\n# ');
  await until(() => hub.tailText(VM, 100).endsWith('# '));
});

after(async () => {
  hub.forget(VM);
  hub.close();
  srv.close();
  await h.close();
  fs.rmSync(logDir, { recursive: true, force: true });
});

type Client = WebSocket & { text: () => string };
function open(ticket: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(h.url('serial', ticket), ['binary']) as Client;
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    ws.text = () => Buffer.concat(got).toString();
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
const ticket = (viewOnly = false) => h.tickets.issue({ userId: h.user.id, vmId: VM, kind: 'serial', viewOnly }).ticket;

test('history first, then live output, and typed input reaches the guest', async () => {
  const ws = await open(ticket());
  await until(() => ws.text() === 'boot line 1\r\nboot line 2\r\n# ', 2000, 'history');
  ws.send('uname\r'); // xterm.js sends text frames
  await until(() => ws.text().endsWith('uname\r\r\nLinux\r\n# '), 2000, 'answer');
  ws.send(Buffer.from([3])); // Ctrl+C as binary
  await until(() => Buffer.concat(typed).at(-1) === 3, 2000, 'binary input');
  ws.close();
});

test('a reload shows the same history, including the last session', async () => {
  const ws = await open(ticket());
  await until(() => ws.text().includes('Linux\r\n# '), 2000, 'history after reload');
  assert.ok(ws.text().startsWith('boot line 1'));
  ws.close();
});

test('view-only sessions see output but cannot type', async () => {
  const before = Buffer.concat(typed).length;
  const ws = await open(ticket(true));
  ws.send('rm -rf /\r');
  await sleep(200);
  assert.equal(Buffer.concat(typed).length, before);
  guest!.write('still alive\r\n');
  await until(() => ws.text().includes('still alive'), 2000);
  ws.close();
});

test('a stopped VM still shows its history; refusals are plain 403', async () => {
  hub.detach(VM);
  h.vms.set(VM, { ...h.vms.get(VM)!, running: false });
  const ws = await open(ticket());
  await until(() => ws.text().includes('still alive'), 2000);
  ws.close();
  assert.equal((await rawUpgrade(h.port, `/ws/serial/${VM}?ticket=bogus`)).status, 403);
  const vncTicket = h.tickets.issue({ userId: h.user.id, vmId: VM, kind: 'vnc', viewOnly: false }).ticket;
  assert.equal((await rawUpgrade(h.port, `/ws/serial/${VM}?ticket=${vncTicket}`)).status, 403);
});
