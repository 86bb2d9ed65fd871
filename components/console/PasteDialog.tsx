'use client';
/**
 * "Paste as keystrokes": text typed into the guest key by key through noVNC, for consoles without a
 * clipboard (BIOS, installers, a rescue shell). It opens with the browser clipboard's text when the
 * browser allows reading it, and the user can edit it first.
 *
 * Keys are paced (a TCG guest with a 16-byte PS/2 queue drops keys sent in a burst) and typed for a US
 * layout; characters a US keyboard cannot type are sent as bare keysyms and the dialog says how many.
 * Closing the dialog cancels the typing.
 *
 * Test ids: vnc-paste-dialog, vnc-paste-text, vnc-paste-send, vnc-paste-progress.
 */
import { useEffect, useRef, useState } from 'react';
import { Button } from '@/components/ui/Button';
import { Dialog } from '@/components/ui/Dialog';
import { textToStrokes, typeStrokes } from './keys';

export type SendKey = (keysym: number, code: string | null, down: boolean) => boolean;

const SPEEDS = { normal: 15, slow: 60 } as const;
type Speed = keyof typeof SPEEDS;
/** Typing more than this by keystrokes takes minutes; refuse rather than freeze the guest's input. */
const MAX_CHARS = 20_000;

export function PasteDialog({ open, onClose, sendKey }: { open: boolean; onClose: () => void; sendKey: SendKey | null }) {
  const [text, setText] = useState('');
  const [speed, setSpeed] = useState<Speed>('normal');
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    if (!open) return;
    setProgress(null);
    setNote(null);
    // Pre-fill from the clipboard when permitted; silently keep the old text otherwise.
    navigator.clipboard
      ?.readText?.()
      .then((t) => t && setText(t))
      .catch(() => {});
  }, [open]);

  const close = () => {
    abort.current?.abort();
    abort.current = null;
    onClose();
  };

  const send = async () => {
    if (!sendKey) return;
    const { strokes, unmapped, dropped } = textToStrokes(text);
    const notes = [];
    if (unmapped) notes.push(`${unmapped} character${unmapped === 1 ? '' : 's'} not on a US keyboard were sent as keysyms`);
    if (dropped) notes.push(`${dropped} control character${dropped === 1 ? '' : 's'} skipped`);
    setNote(notes.length ? notes.join('; ') + '.' : null);
    const ac = new AbortController();
    abort.current = ac;
    setProgress({ done: 0, total: strokes.length });
    const ok = await typeStrokes(strokes, sendKey, {
      delayMs: SPEEDS[speed],
      signal: ac.signal,
      onProgress: (done) => setProgress({ done, total: strokes.length }),
    });
    if (abort.current !== ac) return; // closed meanwhile
    abort.current = null;
    if (ok) {
      setProgress(null);
      onClose();
    } else {
      setNote('Typing stopped: the console disconnected.');
    }
  };

  const typing = abort.current !== null && progress !== null;
  const tooLong = text.length > MAX_CHARS;
  return (
    <Dialog
      open={open}
      onClose={close}
      title="Paste as keystrokes"
      description="The text is typed into the guest key by key, as on a US keyboard layout."
      testId="vnc-paste-dialog"
      footer={
        <>
          <Button onClick={close}>{typing ? 'Stop' : 'Cancel'}</Button>
          <Button variant="primary" onClick={() => void send()} disabled={!sendKey || !text || typing || tooLong} data-testid="vnc-paste-send">
            Type it
          </Button>
        </>
      }
    >
      <label className="label" htmlFor="vnc-paste-text">
        Text
      </label>
      <textarea
        id="vnc-paste-text"
        className="input h-40 font-mono"
        value={text}
        onChange={(e) => setText(e.target.value)}
        disabled={typing}
        spellCheck={false}
        autoComplete="off"
        data-testid="vnc-paste-text"
        aria-invalid={tooLong || undefined}
        aria-describedby="vnc-paste-help"
      />
      <p id="vnc-paste-help" className="muted mt-1 text-xs">
        {tooLong ? `At most ${MAX_CHARS.toLocaleString()} characters.` : `${text.length.toLocaleString()} characters. New lines press Enter.`}
      </p>
      <fieldset className="mt-3 flex items-center gap-4 text-sm" disabled={typing}>
        <legend className="sr-only">Typing speed</legend>
        {(Object.keys(SPEEDS) as Speed[]).map((s) => (
          <label key={s} className="flex items-center gap-1.5">
            <input type="radio" name="vnc-paste-speed" checked={speed === s} onChange={() => setSpeed(s)} />
            {s === 'normal' ? 'Normal speed' : 'Slow (for guests that drop keys)'}
          </label>
        ))}
      </fieldset>
      {progress && (
        <div className="mt-3" data-testid="vnc-paste-progress">
          <progress className="w-full" max={progress.total} value={progress.done} aria-label="Typing progress" />
          <p className="muted text-xs">
            Typed {progress.done} of {progress.total}
          </p>
        </div>
      )}
      {note && <p className="mt-2 text-xs text-amber-700 dark:text-amber-400">{note}</p>}
      {!sendKey && <p className="mt-2 text-xs text-amber-700 dark:text-amber-400">The console is not connected.</p>}
    </Dialog>
  );
}
