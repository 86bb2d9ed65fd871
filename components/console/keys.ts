/**
 * Keys for the VNC console: X11 keysyms plus the physical key (KeyboardEvent.code) for each, so that
 * noVNC can send QEMU extended key events (scancodes) rather than bare keysyms.
 *
 * Why both: with extended key events QEMU passes the scancode to the guest, whose own layout decides the
 * character — that is what makes non-US keyboards work when a person types. For "paste as keystrokes"
 * we have text, not keys, so we must pick physical keys ourselves; we assume the guest uses a US layout
 * (the usual default of installers and rescue shells) and press Shift where a US keyboard needs it.
 * Characters a US keyboard cannot type are sent as bare keysyms (QEMU maps those with its own keymap)
 * and counted, so the UI can warn.
 *
 * Pure module: no DOM, no noVNC import, unit-tested in test/unit/console-keys.test.ts.
 */

export const XK = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Return: 0xff0d,
  Escape: 0xff1b,
  Delete: 0xffff,
  Print: 0xff61,
  Shift_L: 0xffe1,
  Control_L: 0xffe3,
  Alt_L: 0xffe9,
  Super_L: 0xffeb,
  F1: 0xffbe, // F1..F12 are consecutive
} as const;

export interface KeyStroke {
  keysym: number;
  /** KeyboardEvent.code of the physical key on a US keyboard; null when there is none. */
  code: string | null;
  shift: boolean;
}

/** US layout: the keys whose unshifted/shifted characters are punctuation. */
const US_PUNCT: [string, string, string][] = [
  ['Backquote', '`', '~'],
  ['Minus', '-', '_'],
  ['Equal', '=', '+'],
  ['BracketLeft', '[', '{'],
  ['BracketRight', ']', '}'],
  ['Backslash', '\\', '|'],
  ['Semicolon', ';', ':'],
  ['Quote', "'", '"'],
  ['Comma', ',', '<'],
  ['Period', '.', '>'],
  ['Slash', '/', '?'],
];
const SHIFTED_DIGITS = ')!@#$%^&*('; // index = digit

const TABLE: Map<string, KeyStroke> = (() => {
  const t = new Map<string, KeyStroke>();
  for (let i = 0; i < 26; i++) {
    const lower = String.fromCharCode(97 + i);
    const upper = lower.toUpperCase();
    t.set(lower, { keysym: lower.charCodeAt(0), code: `Key${upper}`, shift: false });
    t.set(upper, { keysym: upper.charCodeAt(0), code: `Key${upper}`, shift: true });
  }
  for (let d = 0; d < 10; d++) {
    t.set(String(d), { keysym: 0x30 + d, code: `Digit${d}`, shift: false });
    t.set(SHIFTED_DIGITS[d], { keysym: SHIFTED_DIGITS.charCodeAt(d), code: `Digit${d}`, shift: true });
  }
  for (const [code, plain, shifted] of US_PUNCT) {
    t.set(plain, { keysym: plain.charCodeAt(0), code, shift: false });
    t.set(shifted, { keysym: shifted.charCodeAt(0), code, shift: true });
  }
  t.set(' ', { keysym: 0x20, code: 'Space', shift: false });
  t.set('\n', { keysym: XK.Return, code: 'Enter', shift: false });
  t.set('\t', { keysym: XK.Tab, code: 'Tab', shift: false });
  return t;
})();

/**
 * X11 keysym for a Unicode character: Latin-1 maps to itself, everything else to 0x01000000 + code point
 * (the X11 convention QEMU's keymaps understand).
 */
export function keysymForChar(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  return 0x01000000 + cp;
}

/** The keystroke that types `ch`; physical key on a US layout where there is one. */
export function strokeForChar(ch: string): KeyStroke {
  return TABLE.get(ch) ?? { keysym: keysymForChar(ch), code: null, shift: false };
}

/**
 * Text → keystrokes. CRLF and CR become Enter; other control characters are dropped (a pasted ESC or
 * NUL could do surprising things in the guest). `unmapped` counts characters sent as bare keysyms.
 */
export function textToStrokes(text: string): { strokes: KeyStroke[]; unmapped: number; dropped: number } {
  const strokes: KeyStroke[] = [];
  let unmapped = 0;
  let dropped = 0;
  const normalized = text.replace(/\r\n?/g, '\n');
  for (const ch of normalized) {
    const cp = ch.codePointAt(0)!;
    if ((cp < 0x20 && ch !== '\n' && ch !== '\t') || cp === 0x7f) {
      dropped++;
      continue;
    }
    const s = strokeForChar(ch);
    if (!s.code) unmapped++;
    strokes.push(s);
  }
  return { strokes, unmapped, dropped };
}

/** One key event: what rfb.sendKey(keysym, code, down) takes. */
export interface KeyEventStep {
  keysym: number;
  code: string | null;
  down: boolean;
}

/** Press + release for a stroke, wrapped in Shift when needed. */
export function strokeEvents(s: KeyStroke): KeyEventStep[] {
  const key = [
    { keysym: s.keysym, code: s.code, down: true },
    { keysym: s.keysym, code: s.code, down: false },
  ];
  if (!s.shift) return key;
  return [{ keysym: XK.Shift_L, code: 'ShiftLeft', down: true }, ...key, { keysym: XK.Shift_L, code: 'ShiftLeft', down: false }];
}

/** A key combination pressed in order and released in reverse (Ctrl+Alt+F1 …). */
export function comboEvents(keys: { keysym: number; code: string }[]): KeyEventStep[] {
  return [...keys.map((k) => ({ ...k, down: true })), ...[...keys].reverse().map((k) => ({ ...k, down: false }))];
}

const CTRL = { keysym: XK.Control_L, code: 'ControlLeft' };
const ALT = { keysym: XK.Alt_L, code: 'AltLeft' };

export interface SendKeysEntry {
  id: string;
  label: string;
  events: KeyEventStep[];
}

/** The send-keys menu: Ctrl+Alt+F1–F12 (virtual terminals), Ctrl+Alt+Backspace, PrintScreen. */
export const SEND_KEYS_MENU: SendKeysEntry[] = [
  ...Array.from({ length: 12 }, (_, i) => ({
    id: `ctrl-alt-f${i + 1}`,
    label: `Ctrl+Alt+F${i + 1}`,
    events: comboEvents([CTRL, ALT, { keysym: XK.F1 + i, code: `F${i + 1}` }]),
  })),
  { id: 'ctrl-alt-backspace', label: 'Ctrl+Alt+Backspace', events: comboEvents([CTRL, ALT, { keysym: XK.BackSpace, code: 'Backspace' }]) },
  { id: 'printscreen', label: 'PrintScreen', events: comboEvents([{ keysym: XK.Print, code: 'PrintScreen' }]) },
];

/**
 * Type strokes with pauses, so a slow guest (TCG, a PS/2 queue of 16 bytes) does not drop keys.
 * `send` is rfb.sendKey; returns false when cancelled or the connection went away.
 */
export async function typeStrokes(
  strokes: KeyStroke[],
  send: (keysym: number, code: string | null, down: boolean) => boolean,
  opts: { delayMs: number; signal?: AbortSignal; onProgress?: (done: number) => void },
): Promise<boolean> {
  for (let i = 0; i < strokes.length; i++) {
    if (opts.signal?.aborted) return false;
    for (const e of strokeEvents(strokes[i])) if (!send(e.keysym, e.code, e.down)) return false;
    opts.onProgress?.(i + 1);
    // Enter often starts work in the guest (a shell command): give it a little longer.
    const wait = strokes[i].keysym === XK.Return ? opts.delayMs * 3 : opts.delayMs;
    await new Promise((r) => setTimeout(r, wait));
  }
  return true;
}
