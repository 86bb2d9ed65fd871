/**
 * QmpClient against a fake QMP peer on a real unix socket (net.createServer in a mkdtemp dir), plus
 * one handshake against real QEMU. The fake peer greets like QEMU 7.2, answers through a per-test
 * handler, and can interleave events, split lines, send garbage, stall or hang up.
 *
 * Run: node --import tsx --test test/unit/qmp-client.test.ts
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { QmpClient } from '../../server/qemu/qmp/client';
import type { QmpEvent } from '../../server/qemu/qmp/types';
import { ApiError } from '../../lib/errors';

const GREETING = {
  QMP: { version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' }, capabilities: ['oob'] },
};
const TS = { seconds: 1795553845, microseconds: 1 };

type Msg = { execute: string; arguments?: Record<string, unknown>; id: number };

interface Conn {
  send(obj: unknown): void;
  raw(text: string): void;
  end(): void;
}

interface Peer {
  path: string;
  seen: Msg[];
  close(): Promise<void>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qmp-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let peerNo = 0;

/** A fake QEMU monitor. `onCommand` handles everything but qmp_capabilities, which is answered for it. */
async function startPeer(onCommand: (m: Msg, c: Conn) => void, opts: { greet?: boolean } = {}): Promise<Peer> {
  const sockPath = path.join(tmp, `p${peerNo++}.sock`);
  const seen: Msg[] = [];
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => {});
    const conn: Conn = {
      send: (obj) => sock.write(JSON.stringify(obj) + '\r\n'),
      raw: (text) => sock.write(text),
      end: () => sock.destroy(),
    };
    if (opts.greet !== false) conn.send(GREETING);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as Msg;
        buf = buf.slice(nl + 1);
        seen.push(m);
        if (m.execute === 'qmp_capabilities') conn.send({ return: {}, id: m.id });
        else onCommand(m, conn);
      }
    });
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  return {
    path: sockPath,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of conns) s.destroy();
        server.close(() => r());
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ApiError> {
  const err = await p.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
  assert.equal(err.code, code);
  return err;
}

const STATUS = { status: 'running', singlestep: false, running: true };

test('handshake: greeting, qmp_capabilities first, connected', async (t) => {
  const peer = await startPeer((m, c) => c.send({ return: STATUS, id: m.id }));
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  assert.equal(q.connected, true);
  assert.deepEqual(q.greeting.version.qemu, { major: 7, minor: 2, micro: 22 });
  assert.equal(peer.seen[0].execute, 'qmp_capabilities');
  assert.deepEqual(await q.execute('query-status'), STATUS);
  assert.equal(typeof peer.seen[1].id, 'number');
  assert.notEqual(peer.seen[1].id, peer.seen[0].id);
});

test('replies are matched by id with events interleaved and lines split across chunks', async (t) => {
  const peer = await startPeer((m, c) => {
    const ev = (n: number) => JSON.stringify({ timestamp: TS, event: `EV${n}`, data: { n } }) + '\r\n';
    const reply = JSON.stringify({ return: STATUS, id: m.id }) + '\r\n';
    // An event and half a reply, then the rest of the reply with two more events in the same chunk.
    c.raw(ev(1) + reply.slice(0, 10));
    setTimeout(() => c.raw(reply.slice(10) + ev(2) + ev(3).slice(0, 5)), 20);
    setTimeout(() => c.raw(ev(3).slice(5)), 40);
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const events: QmpEvent[] = [];
  q.on('event', (e) => events.push(e));
  const third = q.waitForEvent((e) => e.event === 'EV3', 2000);
  assert.deepEqual(await q.execute('query-status'), STATUS);
  await third;
  assert.deepEqual(
    events.map((e) => [e.event, e.data?.n]),
    [
      ['EV1', 1],
      ['EV2', 2],
      ['EV3', 3],
    ],
  );
  assert.deepEqual(events[0].timestamp, TS);
});

test('a QMP error reply rejects with QEMU_FAILED carrying class and command', async (t) => {
  const peer = await startPeer((m, c) =>
    c.send({ error: { class: 'GenericError', desc: "Bus 'pcie.0' does not support hotplugging" }, id: m.id }),
  );
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const err = await rejectsWith(q.execute('device_add', { driver: 'virtio-net-pci', id: 'nic1', netdev: 'nic1-net' }), 'QEMU_FAILED');
  assert.equal(err.message, "Bus 'pcie.0' does not support hotplugging");
  assert.deepEqual(err.detail, { class: 'GenericError', command: 'device_add' });
  assert.deepEqual(peer.seen[1].arguments, { driver: 'virtio-net-pci', id: 'nic1', netdev: 'nic1-net' });
});

test('a timed-out command rejects with QMP_TIMEOUT, frees the queue, and its late reply is dropped', async (t) => {
  let first: Msg | undefined;
  const peer = await startPeer((m, c) => {
    if (!first) {
      first = m; // never answered in time
      return;
    }
    // The late answer to the first command arrives just before the second one's.
    c.send({ return: { qemu: { major: 1, minor: 0, micro: 0 }, package: 'late' }, id: first.id });
    c.send({ return: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'right' }, id: m.id });
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const slow = q.execute('query-version', undefined, { timeoutMs: 100 });
  const next = q.execute('query-version');
  const err = await rejectsWith(slow, 'QMP_TIMEOUT');
  assert.deepEqual(err.detail, { command: 'query-version', timeoutMs: 100 });
  assert.equal((await next).package, 'right');
});

test('commands are serialised: the peer sees command n+1 only after answering command n', async (t) => {
  const answered = new Set<number>();
  const violations: string[] = [];
  const peer = await startPeer((m, c) => {
    for (const s of peer.seen) {
      if (s.execute !== 'qmp_capabilities' && s.id !== m.id && !answered.has(s.id)) violations.push(`${m.execute} arrived before ${s.execute} was answered`);
    }
    setTimeout(() => {
      answered.add(m.id);
      c.send({ return: {}, id: m.id });
    }, 30);
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const order: string[] = [];
  await Promise.all(
    (['stop', 'cont', 'system_reset'] as const).map((cmd) => q.execute(cmd).then(() => order.push(cmd))),
  );
  assert.deepEqual(violations, []);
  assert.deepEqual(order, ['stop', 'cont', 'system_reset']);
  assert.deepEqual(
    peer.seen.slice(1).map((m) => m.execute),
    ['stop', 'cont', 'system_reset'],
  );
});

test('no greeting (another client holds the monitor) → QMP_TIMEOUT', async (t) => {
  const peer = await startPeer(() => {}, { greet: false });
  t.after(() => peer.close());
  const started = Date.now();
  await rejectsWith(QmpClient.connect(peer.path, { greetingTimeoutMs: 150 }), 'QMP_TIMEOUT');
  assert.ok(Date.now() - started < 2000);
});

test('a missing socket → QMP_DISCONNECTED', async () => {
  await rejectsWith(QmpClient.connect(path.join(tmp, 'nope.sock')), 'QMP_DISCONNECTED');
});

test('peer hang-up: in-flight and queued commands reject with QMP_DISCONNECTED, close fires once', async (t) => {
  const peer = await startPeer((m, c) => {
    if (m.execute === 'query-status') setTimeout(() => c.end(), 30);
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  let closes = 0;
  q.on('close', () => closes++);
  const waiting = q.waitForEvent(() => false, 5000);
  const inflight = q.execute('query-status');
  const queued = q.execute('cont');
  await rejectsWith(inflight, 'QMP_DISCONNECTED');
  await rejectsWith(queued, 'QMP_DISCONNECTED');
  await rejectsWith(waiting, 'QMP_DISCONNECTED');
  assert.equal(q.connected, false);
  await rejectsWith(q.execute('query-status'), 'QMP_DISCONNECTED');
  await q.close(); // closing again is harmless
  await sleep(20);
  assert.equal(closes, 1);
});

test('quit: QEMU hanging up before its answer counts as success', async (t) => {
  const peer = await startPeer((_m, c) => c.end());
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  assert.deepEqual(await q.execute('quit'), {});
});

test('lines that are not JSON (or not QMP messages) are ignored', async (t) => {
  const peer = await startPeer((m, c) => {
    c.raw('this is not json\r\n[1,2,3]\r\n"str"\r\n{"unrelated":true}\r\n{"return":{},"id":999999}\r\n\r\n');
    c.send({ return: STATUS, id: m.id });
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  assert.deepEqual(await q.execute('query-status'), STATUS);
  assert.equal(q.connected, true);
});

test('replies we rely on are validated with zod', async (t) => {
  const peer = await startPeer((m, c) => c.send({ return: { status: 'sleeping-beauty', running: 'yes' }, id: m.id }));
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const err = await rejectsWith(q.execute('query-status'), 'QEMU_FAILED');
  assert.match(err.message, /Unexpected reply to query-status/);
});

test('waitForEvent: match, timeout with UNPLUG_TIMEOUT or a given code', async (t) => {
  const peer = await startPeer((m, c) => {
    c.send({ timestamp: TS, event: 'DEVICE_DELETED', data: { path: '/machine/peripheral/disk1/virtio-backend' } });
    c.send({ return: {}, id: m.id });
    c.send({ timestamp: TS, event: 'DEVICE_DELETED', data: { device: 'disk1', path: '/machine/peripheral/disk1' } });
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const gone = q.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === 'disk1', 2000);
  await q.execute('device_del', { id: 'disk1' });
  assert.equal((await gone).data?.path, '/machine/peripheral/disk1');
  await rejectsWith(q.waitForEvent(() => false, 50), 'UNPLUG_TIMEOUT');
  await rejectsWith(q.waitForEvent(() => false, 50, 'QMP_TIMEOUT'), 'QMP_TIMEOUT');
});

test('a throwing event listener does not break the connection', async (t) => {
  const peer = await startPeer((m, c) => {
    c.send({ timestamp: TS, event: 'STOP' });
    c.send({ return: {}, id: m.id });
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  q.on('event', () => {
    throw new Error('listener bug');
  });
  await q.execute('stop');
  assert.deepEqual(await q.execute('stop'), {});
  await sleep(10);
  assert.ok(warnings.some((w) => w.includes('listener bug')));
});

test('multi-byte UTF-8 split across chunks survives', async (t) => {
  const peer = await startPeer((m, c) => {
    const bytes = Buffer.from(JSON.stringify({ return: 'Gerät ✓ ok', id: m.id }) + '\r\n');
    const cut = bytes.indexOf(0xe2) + 1; // inside the 3-byte check mark
    c.raw(bytes.subarray(0, cut) as unknown as string);
    setTimeout(() => c.raw(bytes.subarray(cut) as unknown as string), 20);
  });
  t.after(() => peer.close());
  const q = await QmpClient.connect(peer.path);
  t.after(() => q.close());
  assert.equal(await q.execute('human-monitor-command', { 'command-line': 'info version' }), 'Gerät ✓ ok');
});

// ---- real QEMU -----------------------------------------------------------------------------------

const QEMU = 'qemu-system-x86_64';
const haveQemu = spawnSync(QEMU, ['--version']).status === 0;

test('real QEMU: prelaunch status, then quit', { skip: !haveQemu && `${QEMU} not installed` }, async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'qemu-'));
  const sock = path.join(dir, 'q.sock');
  const child: ChildProcess = spawn(
    QEMU,
    ['-machine', 'q35,accel=tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // The socket file appears at bind(); QEMU listens a moment later, so retry a refused connect.
  let q: QmpClient | undefined;
  for (let i = 0; i < 200 && !q && child.exitCode === null; i++) {
    if (fs.existsSync(sock)) q = await QmpClient.connect(sock).catch(() => undefined);
    if (!q) await sleep(25);
  }
  assert.ok(q, 'QEMU did not open its QMP socket');
  assert.equal(q.greeting.version.qemu.major >= 7, true);
  const st = await q.execute('query-status');
  assert.equal(st.status, 'prelaunch');
  assert.equal(st.running, false);
  const closed = new Promise((r) => q.once('close', r));
  assert.deepEqual(await q.execute('quit'), {});
  await closed;
  assert.equal(await exited, 0);
});
