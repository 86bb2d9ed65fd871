/**
 * RfbViewOnlyFilter on its own: a realistic noVNC client stream, fed whole and split at every byte
 * boundary, must come out as exactly the non-input messages; unsupported handshakes and unknown
 * messages are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RfbProtocolError, RfbViewOnlyFilter } from '../../server/vnc/rfb-filter';

const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

const handshake = [Buffer.from('RFB 003.008\n'), Buffer.from([2]), Buffer.alloc(16, 0x42), Buffer.from([1])];
const setPixelFormat = Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
const setEncodings = Buffer.from([2, 0, ...u16(3), ...u32(7), ...u32(0), ...u32(-258 >>> 0)]);
const fbReq = Buffer.from([3, 1, ...u16(0), ...u16(0), ...u16(640), ...u16(480)]);
const contUpdates = Buffer.from([150, 1, ...u16(0), ...u16(0), ...u16(640), ...u16(480)]);
const fence = Buffer.from([248, 0, 0, 0, ...u32(0x80000003), 4, 1, 2, 3, 4]);
const allowed = [setPixelFormat, setEncodings, fbReq, contUpdates, fence];

const key = Buffer.from([4, 1, 0, 0, ...u32(0xff0d)]);
const pointer = Buffer.from([5, 1, ...u16(5), ...u16(6)]);
const cut = Buffer.from([6, 0, 0, 0, ...u32(5), ...Buffer.from('hello')]);
const extCut = Buffer.from([6, 0, 0, 0, ...u32(-8 >>> 0), ...u32(0x1000001), 0, 0, 0, 0]);
const qemuKey = Buffer.from([255, 0, ...u16(1), ...u32(0x61), ...u32(30)]);
const qemuAudio = Buffer.from([255, 1, ...u16(2), 3, 2, ...u32(44100)]);
const qemuAudioOn = Buffer.from([255, 1, ...u16(0)]);
const xvpReboot = Buffer.from([250, 0, 1, 3]);
const desktopSize = Buffer.from([251, 0, ...u16(800), ...u16(600), 1, 0, ...Array(16).fill(0)]);
const blocked = [key, pointer, cut, extCut, qemuKey, qemuAudio, qemuAudioOn, xvpReboot, desktopSize];

function stream(): { input: Buffer; expected: Buffer } {
  const parts: Buffer[] = [...handshake];
  const want: Buffer[] = [...handshake];
  for (let i = 0; i < 3; i++) {
    for (const [j, m] of allowed.entries()) {
      parts.push(m, blocked[(i * 5 + j) % blocked.length]);
      want.push(m);
    }
  }
  parts.push(...blocked);
  parts.push(fbReq);
  want.push(fbReq);
  return { input: Buffer.concat(parts), expected: Buffer.concat(want) };
}

test('whole stream: handshake and viewer messages pass, input is dropped', () => {
  const { input, expected } = stream();
  const f = new RfbViewOnlyFilter();
  assert.deepEqual(Buffer.concat(f.push(input)), expected);
  assert.equal(f.dropped, 15 + blocked.length);
});

test('the same stream split at every possible point, and byte by byte', () => {
  const { input, expected } = stream();
  for (let cutAt = 1; cutAt < input.length; cutAt++) {
    const f = new RfbViewOnlyFilter();
    const out = [...f.push(input.subarray(0, cutAt)), ...f.push(input.subarray(cutAt))];
    assert.deepEqual(Buffer.concat(out), expected, `split at ${cutAt}`);
  }
  const f = new RfbViewOnlyFilter();
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i++) out.push(...f.push(input.subarray(i, i + 1)));
  assert.deepEqual(Buffer.concat(out), expected);
});

test('security type None is followed straight by ClientInit', () => {
  const f = new RfbViewOnlyFilter();
  const out = f.push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), key, fbReq]));
  assert.deepEqual(Buffer.concat(out), Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1]), fbReq]));
});

test('fails closed on what it cannot follow', () => {
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.from('RFB 003.003\n')), RfbProtocolError);
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.from('HTTP/1.1 200\n')), RfbProtocolError);
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([19])])), RfbProtocolError);
  const f = new RfbViewOnlyFilter();
  f.push(Buffer.concat([...handshake]));
  assert.throws(() => f.push(Buffer.from([7, 0, 0, 0])), /unknown RFB client message type 7/);
  const g = new RfbViewOnlyFilter();
  g.push(Buffer.concat([...handshake]));
  assert.throws(() => g.push(Buffer.from([255, 9])), /unknown QEMU client message/);
});
