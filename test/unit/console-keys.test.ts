/**
 * Paste-as-keystrokes key mapping (components/console/keys.ts): US-layout physical keys with Shift where
 * needed, Enter for new lines, keysyms for what a US keyboard lacks, control characters dropped, the
 * send-keys menu combos, and paced typing that stops when cancelled or disconnected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEND_KEYS_MENU, XK, keysymForChar, strokeEvents, strokeForChar, textToStrokes, typeStrokes } from '../../components/console/keys';

test('letters, digits and symbols map to US keys with Shift where needed', () => {
  assert.deepEqual(strokeForChar('a'), { keysym: 0x61, code: 'KeyA', shift: false });
  assert.deepEqual(strokeForChar('Z'), { keysym: 0x5a, code: 'KeyZ', shift: true });
  assert.deepEqual(strokeForChar('7'), { keysym: 0x37, code: 'Digit7', shift: false });
  assert.deepEqual(strokeForChar('&'), { keysym: 0x26, code: 'Digit7', shift: true });
  assert.deepEqual(strokeForChar(')'), { keysym: 0x29, code: 'Digit0', shift: true });
  assert.deepEqual(strokeForChar('>'), { keysym: 0x3e, code: 'Period', shift: true });
  assert.deepEqual(strokeForChar('/'), { keysym: 0x2f, code: 'Slash', shift: false });
  assert.deepEqual(strokeForChar('_'), { keysym: 0x5f, code: 'Minus', shift: true });
  assert.deepEqual(strokeForChar('"'), { keysym: 0x22, code: 'Quote', shift: true });
  assert.deepEqual(strokeForChar(' '), { keysym: 0x20, code: 'Space', shift: false });
  // Every printable ASCII character has a physical key.
  for (let c = 0x20; c < 0x7f; c++) assert.ok(strokeForChar(String.fromCharCode(c)).code, `no key for ${String.fromCharCode(c)}`);
});

test('the e2e command types as expected', () => {
  const { strokes, unmapped, dropped } = textToStrokes('echo VNC-KEYS-OK > /dev/ttyS0\n');
  assert.equal(unmapped, 0);
  assert.equal(dropped, 0);
  assert.equal(strokes.length, 30);
  assert.equal(strokes.at(-1)!.keysym, XK.Return);
  assert.equal(strokes.filter((s) => s.shift).length, 'VNCKEYSOK>S'.length);
});

test('new lines, tabs, control characters and non-US characters', () => {
  const r = textToStrokes('a\r\nb\rc\td\x1b\x00é€');
  assert.deepEqual(
    r.strokes.map((s) => s.code),
    ['KeyA', 'Enter', 'KeyB', 'Enter', 'KeyC', 'Tab', 'KeyD', null, null],
  );
  assert.equal(r.dropped, 2);
  assert.equal(r.unmapped, 2);
  assert.equal(keysymForChar('é'), 0xe9);
  assert.equal(keysymForChar('€'), 0x010020ac);
});

test('shifted strokes are wrapped in Shift press/release', () => {
  assert.deepEqual(
    strokeEvents(strokeForChar('A')).map((e) => `${e.code}${e.down ? '↓' : '↑'}`),
    ['ShiftLeft↓', 'KeyA↓', 'KeyA↑', 'ShiftLeft↑'],
  );
});

test('send-keys menu: Ctrl+Alt+F1..F12, Ctrl+Alt+Backspace, PrintScreen', () => {
  assert.equal(SEND_KEYS_MENU.length, 14);
  const f3 = SEND_KEYS_MENU.find((k) => k.id === 'ctrl-alt-f3')!;
  assert.deepEqual(
    f3.events.map((e) => `${e.code}${e.down ? '↓' : '↑'}`),
    ['ControlLeft↓', 'AltLeft↓', 'F3↓', 'F3↑', 'AltLeft↑', 'ControlLeft↑'],
  );
  assert.equal(f3.events[2].keysym, 0xffc0);
  assert.equal(SEND_KEYS_MENU.find((k) => k.id === 'ctrl-alt-f12')!.events[2].keysym, 0xffc9);
  assert.equal(SEND_KEYS_MENU.find((k) => k.id === 'printscreen')!.events[0].keysym, XK.Print);
});

test('typeStrokes paces keys and stops on cancel or disconnect', async () => {
  const sent: string[] = [];
  const { strokes } = textToStrokes('hi');
  const ok = await typeStrokes(strokes, (_k, code, down) => (sent.push(`${code}${down ? '↓' : '↑'}`), true), { delayMs: 1 });
  assert.equal(ok, true);
  assert.deepEqual(sent, ['KeyH↓', 'KeyH↑', 'KeyI↓', 'KeyI↑']);

  const ac = new AbortController();
  let n = 0;
  const cancelled = typeStrokes(textToStrokes('abcdef').strokes, () => (++n === 4 && ac.abort(), true), { delayMs: 1, signal: ac.signal });
  assert.equal(await cancelled, false);
  assert.equal(n, 4);
  assert.equal(await typeStrokes(strokes, () => false, { delayMs: 1 }), false);
});
