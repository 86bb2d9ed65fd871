/**
 * The VNC websocket proxy end to end: a real `ws` client, our handler behind an HTTP server, and a fake
 * VNC unix server. Bytes both ways, subprotocol, close propagation in both directions, bounded buffering
 * against a client that stops reading and a VNC server that stops reading, refusals before the upgrade,
 * and server-side view-only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { vncSessions, VNC_TUNING } from '../../server/vnc/proxy';
import { fakeUnixServer, OTHER_VM, rawUpgrade, sleep, startHarness, until, VM, type Harness } from './console-harness';

let h: Harness;
let sock: string;
let servers: net.Server[] = [];

before(async () => {
  h = await startHarness();
  sock = path.join(h.dir, 'vnc.sock');
  h.vms.set(VM, { running: true, vncSocket: sock, serialSocket: path.join(h.dir, 'serial.sock') });
});
after(async () => {
  servers.forEach((s) => s.close());
  await h.close();
});

async function withFake(onConn: (s: net.Socket) => void): Promise<void> {
  servers.forEach((s) => s.close());
  await sleep(10);
  servers = [await fakeUnixServer(sock, onConn)];
}

function ticket(vmId = VM, kind: 'vnc' | 'serial' = 'vnc', viewOnly = false): string {
  return h.tickets.issue({ userId: h.user.id, vmId, kind, viewOnly }).ticket;
}

type Client = WebSocket & { msgs: Buffer[] };

/** Open a client that records every message from the start (the first frame can share a TCP read with the 101). */
function open(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']) as Client;
    ws.msgs = [];
    ws.on('message', (d: Buffer) => ws.msgs.push(d));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('bytes flow both ways over the binary subprotocol', async () => {
  const fromClient: Buffer[] = [];
  await withFake((s) => {
    s.write('RFB 003.008\n');
    s.on('data', (d) => {
      fromClient.push(d);
      s.write(Buffer.concat([Buffer.from('echo:'), d]));
    });
  });
  const ws = await open(h.url('vnc', ticket()));
  assert.equal(ws.protocol, 'binary');
  const msgs = ws.msgs;
  let text = 0;
  ws.on('message', (_d, isBinary) => (text += isBinary ? 0 : 1));
  await until(() => Buffer.concat(msgs).toString() === 'RFB 003.008\n', 2000, 'greeting');
  ws.send(Buffer.from('RFB 003.008\n'));
  await until(() => Buffer.concat(msgs).toString().endsWith('echo:RFB 003.008\n'), 2000, 'echo');
  assert.equal(Buffer.concat(fromClient).toString(), 'RFB 003.008\n');
  assert.equal(text, 0, 'binary frames only');
  ws.close();
  await until(() => vncSessions().length === 0, 2000, 'session gone');
});

test('VNC server closing closes the websocket, after the queued data', async () => {
  await withFake((s) => s.end(Buffer.alloc(300_000, 9)));
  const ws = await open(h.url('vnc', ticket()));
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  assert.equal(Buffer.concat(ws.msgs).length, 300_000);
  assert.equal(code, 1000);
});

test('websocket closing closes the VNC connection', async () => {
  let closed = false;
  await withFake((s) => {
    s.write('RFB 003.008\n');
    s.on('close', () => (closed = true));
  });
  const ws = await open(h.url('vnc', ticket()));
  await until(() => ws.msgs.length > 0, 2000, 'greeting');
  ws.terminate(); // abrupt: no close frame
  await until(() => closed, 2000, 'unix side closed');
});

test('a client that stops reading pauses the VNC socket: buffering stays bounded', async () => {
  const TOTAL = 200 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  await withFake((s) => {
    const pump = () => {
      while (written < TOTAL) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  const ws = new WebSocket(h.url('vnc', ticket()), ['binary']);
  let received = 0;
  ws.on('message', (d: Buffer) => (received += d.length));
  await new Promise((r) => ws.once('open', r));
  ws.pause(); // a browser tab that froze
  await sleep(1500);
  const [st] = vncSessions();
  assert.ok(st, 'session listed');
  assert.equal(st.unixPaused, true, 'proxy stopped reading from VNC');
  assert.ok(st.unixPauses >= 1);
  // Everything in flight: our userland buffer (≤ highWater + one read) plus kernel socket buffers.
  const inFlight = written - received;
  assert.ok(st.wsBuffered <= VNC_TUNING.highWater + VNC_TUNING.readSize, `ws buffer ${st.wsBuffered}`);
  assert.ok(written < 48 * 1024 * 1024, `the source was allowed to write ${written} bytes into a paused client`);
  assert.ok(inFlight < 48 * 1024 * 1024);
  const writtenWhilePaused = written;
  await sleep(300);
  assert.equal(written, writtenWhilePaused, 'source is blocked, not trickling');
  // Reading again drains everything, intact and in full.
  ws.resume();
  await new Promise((r) => ws.once('close', r));
  assert.equal(received, TOTAL);
});

test('a VNC server that stops reading pauses the websocket', async () => {
  let vnc: net.Socket | null = null;
  let got = 0;
  await withFake((s) => {
    vnc = s;
    s.pause();
    s.on('data', (d) => (got += d.length));
  });
  const ws = await open(h.url('vnc', ticket()));
  const blob = Buffer.alloc(256 * 1024, 1);
  let sent = 0;
  // Send until the client's own buffer shows the data is not moving any more.
  for (let i = 0; i < 400 && ws.bufferedAmount < 8 * 1024 * 1024; i++) {
    ws.send(blob);
    sent += blob.length;
    await sleep(2);
  }
  await sleep(300);
  const [st] = vncSessions();
  assert.equal(st.wsPaused, true, 'proxy paused the websocket');
  assert.ok(st.bytesUp < 64 * 1024 * 1024, `proxy accepted ${st.bytesUp} bytes`);
  assert.ok(ws.bufferedAmount > 0, 'back-pressure reached the client');
  vnc!.resume();
  await until(() => got === sent, 10_000, 'all client bytes delivered');
  assert.equal(vncSessions()[0].wsPaused, false);
  ws.close();
  await until(() => vncSessions().length === 0);
});

test('refusals happen before the upgrade, with stable error codes', async () => {
  await withFake((s) => s.write('RFB 003.008\n'));
  // no ticket, garbage ticket
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${VM}`)).status, 403);
  const bad = await rawUpgrade(h.port, `/ws/vnc/${VM}?ticket=nope`);
  assert.equal(bad.status, 403);
  assert.equal(JSON.parse(bad.body).code, 'TICKET_INVALID');
  // reused
  const t = ticket();
  const ws = await open(h.url('vnc', t));
  ws.close();
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${VM}?ticket=${t}`)).status, 403);
  // another VM's ticket; a serial ticket (expiry with an injected clock is in console-tickets.test.ts)
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${VM}?ticket=${ticket(OTHER_VM)}`)).status, 403);
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${VM}?ticket=${ticket(VM, 'serial')}`)).status, 403);
  // another user's ticket
  const foreign = h.tickets.issue({ userId: 99, vmId: VM, kind: 'vnc', viewOnly: false }).ticket;
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${VM}?ticket=${foreign}`)).status, 403);
  // VM unknown, VM stopped, VNC socket missing
  h.vms.set(OTHER_VM, { running: false, vncSocket: '/nonexistent/vnc.sock', serialSocket: '/nonexistent/s.sock' });
  const stopped = await rawUpgrade(h.port, `/ws/vnc/${OTHER_VM}?ticket=${ticket(OTHER_VM)}`);
  assert.equal(stopped.status, 409);
  assert.equal(JSON.parse(stopped.body).code, 'VM_NOT_RUNNING');
  h.vms.set(OTHER_VM, { running: true, vncSocket: path.join(h.dir, 'missing.sock'), serialSocket: '/nonexistent/s.sock' });
  const dead = await rawUpgrade(h.port, `/ws/vnc/${OTHER_VM}?ticket=${ticket(OTHER_VM)}`);
  assert.equal(dead.status, 502);
  assert.equal(JSON.parse(dead.body).code, 'QEMU_FAILED');
  h.vms.delete(OTHER_VM);
  assert.equal((await rawUpgrade(h.port, `/ws/vnc/${OTHER_VM}?ticket=${ticket(OTHER_VM)}`)).status, 404);
});

test('view-only sessions never pass input to VNC', async () => {
  const fromClient: Buffer[] = [];
  await withFake((s) => {
    s.write('RFB 003.008\n');
    s.on('data', (d) => fromClient.push(d));
  });
  const ws = await open(h.url('vnc', ticket(VM, 'vnc', true)));
  const key = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]);
  const pointer = Buffer.from([5, 1, 0, 10, 0, 10]);
  const qemuKey = Buffer.from([255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30]);
  const fbReq = Buffer.from([3, 0, 0, 0, 0, 0, 0, 100, 0, 100]);
  ws.send(Buffer.from('RFB 003.008\n'));
  ws.send(Buffer.from([2])); // security type: VNC auth
  ws.send(Buffer.alloc(16, 0xaa)); // DES response
  ws.send(Buffer.from([1])); // ClientInit shared
  ws.send(Buffer.concat([key, pointer, qemuKey, fbReq]));
  await until(() => Buffer.concat(fromClient).length >= 12 + 1 + 16 + 1 + 10, 2000, 'allowed bytes');
  await sleep(100);
  const all = Buffer.concat(fromClient);
  assert.deepEqual(all.subarray(30), fbReq);
  assert.equal(vncSessions()[0].droppedInput, 3);
  // An unknown message ends a view-only session (fail closed).
  ws.send(Buffer.from([77]));
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  assert.equal(code, 1008);
});

test('a viewer is view-only even with an editing ticket', async () => {
  const fromClient: Buffer[] = [];
  await withFake((s) => s.on('data', (d) => fromClient.push(d)));
  const prev = h.user;
  h.user = { id: 5, username: 'vic', role: 'viewer' };
  const ws = await open(h.url('vnc', ticket()));
  h.user = prev;
  ws.send(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61])]));
  await until(() => Buffer.concat(fromClient).length >= 14, 2000);
  await sleep(100);
  assert.equal(Buffer.concat(fromClient).length, 14);
  ws.close();
});
