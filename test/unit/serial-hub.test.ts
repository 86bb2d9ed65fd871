/**
 * SerialHub and its storage: ring wrap-around, the log cap and rotation, history across a server
 * restart, and the reader connection against a fake QEMU serial socket (late socket, reconnect, one
 * client at a time, input, waitFor).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CappedLog, RingBuffer, bytesToText } from '../../server/serial/ring';
import { SerialHub } from '../../server/serial/hub';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'serial-hub-'));
  dirs.push(d);
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A fake QEMU serial chardev: one client at a time, like `server=on,wait=off`. */
function fakeSerial(sockPath: string) {
  const clients: net.Socket[] = [];
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    clients.push(s);
    s.on('data', (d) => received.push(d));
    s.on('error', () => {});
    s.on('close', () => clients.splice(clients.indexOf(s), 1));
  });
  return {
    clients,
    received,
    listen: () => new Promise<void>((r) => server.listen(sockPath, r)),
    send: (text: string) => clients.forEach((c) => c.write(text)),
    kickAll: () => clients.forEach((c) => c.destroy()),
    close: () => new Promise<void>((r) => {
      clients.forEach((c) => c.destroy());
      server.close(() => r());
    }),
  };
}

test('ring buffer keeps the last N bytes across wrap-around', () => {
  const r = new RingBuffer(10);
  assert.equal(r.tail(5).length, 0);
  r.push(Buffer.from('abcdef'));
  assert.equal(r.tail(100).toString(), 'abcdef');
  r.push(Buffer.from('ghij'));
  assert.equal(r.tail(10).toString(), 'abcdefghij');
  r.push(Buffer.from('klm')); // wraps
  assert.equal(r.tail(10).toString(), 'defghijklm');
  assert.equal(r.tail(4).toString(), 'jklm');
  r.push(Buffer.from('0123456789ABCDEF')); // larger than capacity
  assert.equal(r.tail(10).toString(), '6789ABCDEF');
  assert.equal(r.length, 10);
  // Many small writes at odd offsets agree with a naive model.
  const model: number[] = [];
  const r2 = new RingBuffer(37);
  for (let i = 0; i < 500; i++) {
    const chunk = Buffer.from(Array.from({ length: (i * 7) % 23 }, (_, k) => (i + k) & 0xff));
    r2.push(chunk);
    model.push(...chunk);
    const want = Buffer.from(model.slice(-37));
    assert.deepEqual(r2.tail(37), want);
    assert.deepEqual(r2.tail(5), want.subarray(Math.max(0, want.length - 5)));
  }
});

test('capped log rotates to .1 and never exceeds its cap', () => {
  const dir = tmpdir();
  const p = path.join(dir, 'vm.serial.log');
  const log = new CappedLog(p, 100);
  for (let i = 0; i < 30; i++) log.write(Buffer.from(`line ${String(i).padStart(2, '0')}\n`)); // 8 bytes each
  log.close();
  assert.ok(fs.statSync(p).size <= 100);
  assert.ok(fs.statSync(`${p}.1`).size <= 100);
  const tail = CappedLog.readTail(p, 16).toString();
  assert.equal(tail, 'line 28\nline 29\n');
  // readTail spans the rotated file when the current one is short.
  const all = CappedLog.readTail(p, 1000).toString();
  assert.ok(all.endsWith('line 29\n'));
  assert.ok(all.length > fs.statSync(p).size);
  // A chunk bigger than the cap keeps its tail only.
  const log2 = new CappedLog(path.join(dir, 'big.log'), 10);
  log2.write(Buffer.from('0123456789abcdefghij'));
  log2.close();
  assert.equal(fs.readFileSync(path.join(dir, 'big.log'), 'utf8'), 'abcdefghij');
  assert.equal(CappedLog.readTail(path.join(dir, 'missing.log'), 10).length, 0);
});

test('bytesToText skips a cut UTF-8 sequence at the front', () => {
  const full = Buffer.from('é-ok');
  assert.equal(bytesToText(full.subarray(1)), '-ok');
  assert.equal(bytesToText(full), 'é-ok');
});

test('hub reads a socket that appears late, records history, reconnects, and takes input', async () => {
  const dir = tmpdir();
  const sock = path.join(dir, 'serial.sock');
  const hub = new SerialHub({ logDir: path.join(dir, 'logs'), ringBytes: 1024, minBackoffMs: 10, maxBackoffMs: 40 });
  const vm = 'vm-1';
  hub.attach(vm, sock); // no socket yet: QEMU is still starting
  hub.attach(vm, sock); // idempotent
  await sleep(60);
  assert.equal(hub.isConnected(vm), false);

  const fake = fakeSerial(sock);
  await fake.listen();
  await until(() => hub.isConnected(vm));
  assert.equal(fake.clients.length, 1, 'exactly one reader connection');

  const seen: string[] = [];
  const unsub = hub.subscribe(vm, (c) => seen.push(c.toString()));
  const waiting = hub.waitFor(vm, /READY \d+/, 2000);
  fake.send('booting...\r\n');
  fake.send('READY 4');
  fake.send('2\r\n');
  await waiting;
  assert.match(hub.tail(vm, 1000).toString(), /booting\.\.\.\r\nREADY 42/);
  await until(() => seen.join('').includes('READY 42'));
  unsub();

  assert.equal(hub.write(vm, Buffer.from('ls\n')), true);
  await until(() => Buffer.concat(fake.received).toString() === 'ls\n');

  // QEMU drops the connection (e.g. a chardev reset): the hub comes back by itself.
  fake.kickAll();
  await until(() => !hub.isConnected(vm));
  await until(() => hub.isConnected(vm) && fake.clients.length === 1);
  fake.send('after reconnect\n');
  await until(() => hub.tail(vm, 1000).toString().includes('after reconnect'));

  // waitFor only looks at new output and times out with a useful message.
  await assert.rejects(hub.waitFor(vm, 'READY 42', 50), /did not match/);

  // Detach: no reconnect, input refused, history kept.
  hub.detach(vm);
  await sleep(80);
  assert.equal(fake.clients.length, 0);
  assert.equal(hub.write(vm, Buffer.from('x')), false);
  assert.match(hub.tail(vm, 1000).toString(), /after reconnect/);
  hub.close();
  await fake.close();
});

test('history survives a server restart via the log file; forget removes it', async () => {
  const dir = tmpdir();
  const logDir = path.join(dir, 'logs');
  const sock = path.join(dir, 's.sock');
  const fake = fakeSerial(sock);
  await fake.listen();
  const hub1 = new SerialHub({ logDir, minBackoffMs: 10 });
  hub1.attach('vm-2', sock);
  await until(() => hub1.isConnected('vm-2'));
  fake.send('Linux version 6.1\r\nlogin: ');
  await until(() => hub1.tail('vm-2', 100).toString().includes('login: '));
  hub1.close();

  const hub2 = new SerialHub({ logDir });
  assert.equal(hub2.tailText('vm-2', 1000), 'Linux version 6.1\r\nlogin: ');
  assert.equal(hub2.tail('vm-2', 7).toString(), 'login: ');
  hub2.forget('vm-2');
  assert.equal(fs.existsSync(path.join(logDir, 'vm-2.serial.log')), false);
  assert.equal(hub2.tail('vm-2', 100).length, 0);
  assert.throws(() => hub2.tail('../etc/passwd', 10), /invalid VM id/);
  hub2.close();
  await fake.close();
});

test('the hub keeps the ring bounded under a flood and the log under its cap', async () => {
  const dir = tmpdir();
  const logDir = path.join(dir, 'logs');
  const sock = path.join(dir, 'f.sock');
  const fake = fakeSerial(sock);
  await fake.listen();
  const hub = new SerialHub({ logDir, ringBytes: 4096, logCapBytes: 64 * 1024, minBackoffMs: 10 });
  hub.attach('vm-3', sock);
  await until(() => hub.isConnected('vm-3'));
  const line = 'x'.repeat(99) + '\n';
  for (let i = 0; i < 2000; i++) fake.send(line); // 200 KB
  fake.send('END\n');
  await until(() => hub.tail('vm-3', 4).toString() === 'END\n');
  assert.equal(hub.tail('vm-3', 1 << 20).length, 4096);
  const log = path.join(logDir, 'vm-3.serial.log');
  assert.ok(fs.statSync(log).size <= 64 * 1024);
  assert.ok(fs.statSync(`${log}.1`).size <= 64 * 1024);
  hub.close();
  await fake.close();
});
