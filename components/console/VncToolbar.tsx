'use client';
/**
 * The graphical console's toolbar: Ctrl+Alt+Del, a send-keys menu, scaling, view-only, paste as
 * keystrokes, screenshot, fullscreen and pop-out. Input actions are disabled while disconnected or
 * view-only; screenshot, scaling and window actions work whenever there is a picture.
 *
 * Test ids: vnc-toolbar, vnc-ctrl-alt-del, vnc-sendkeys, vnc-sendkey-<id> (ctrl-alt-f1 … ctrl-alt-f12,
 * ctrl-alt-backspace, printscreen), vnc-scale, vnc-viewonly, vnc-paste, vnc-screenshot, vnc-fullscreen,
 * vnc-popout.
 */
import type RFB from '@novnc/novnc';
import { useEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import type { VmView } from '@/lib/schemas';
import { screenshotName } from './connection';
import { SEND_KEYS_MENU, type KeyEventStep } from './keys';
import { PasteDialog, type SendKey } from './PasteDialog';
import { vmConsoleHref } from '@/components/vm/links';

export type ScaleMode = 'fit' | 'native' | 'remote';

const SCALE_LABEL: Record<ScaleMode, string> = {
  fit: 'Fit to window',
  native: '1:1',
  remote: 'Resize guest (if supported)',
};

export interface VncToolbarProps {
  vm: VmView;
  /** The connected RFB, or null while not connected. */
  getRfb: () => RFB | null;
  frameRef: RefObject<HTMLDivElement | null>;
  scale: ScaleMode;
  onScale: (m: ScaleMode) => void;
  viewOnly: boolean;
  forceViewOnly: boolean;
  onViewOnly: (v: boolean) => void;
  popout: boolean;
  statusSlot: ReactNode;
}

const btn = 'btn btn-sm border-slate-600 bg-slate-800 text-slate-100 hover:bg-slate-700 dark:border-slate-600';

export function VncToolbar(p: VncToolbarProps) {
  const rfb = p.getRfb();
  const canType = rfb !== null && !p.viewOnly;
  const [pasteOpen, setPasteOpen] = useState(false);
  const [fullscreen, setFullscreen] = useState(false);
  const menu = useRef<HTMLDetailsElement>(null);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === p.frameRef.current && document.fullscreenElement !== null);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, [p.frameRef]);

  const sendEvents = (events: KeyEventStep[]) => {
    const r = p.getRfb();
    if (!r) return;
    for (const e of events) r.sendKey(e.keysym, e.code, e.down);
    r.focus();
  };

  const sendKey: SendKey | null = canType
    ? (keysym, code, down) => {
        const r = p.getRfb();
        if (!r) return false;
        r.sendKey(keysym, code, down);
        return true;
      }
    : null;

  const screenshot = () => {
    const r = p.getRfb();
    if (!r) return;
    const a = document.createElement('a');
    a.href = r.toDataURL('image/png');
    a.download = screenshotName(p.vm.name);
    document.body.appendChild(a);
    a.click();
    a.remove();
  };

  const toggleFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void p.frameRef.current?.requestFullscreen?.();
  };

  const popOut = () => {
    window.open(vmConsoleHref(p.vm.id), `console-${p.vm.id}`, 'popup=yes,width=1100,height=820');
  };

  return (
    <div className="flex flex-wrap items-center gap-1.5 border-b border-slate-800 bg-slate-900 px-2 py-1.5 text-slate-100" role="toolbar" aria-label="Console controls" data-testid="vnc-toolbar">
      <button type="button" className={btn} disabled={!canType} onClick={() => (p.getRfb()?.sendCtrlAltDel(), p.getRfb()?.focus())} data-testid="vnc-ctrl-alt-del">
        Ctrl+Alt+Del
      </button>

      <details ref={menu} className="relative" data-testid="vnc-sendkeys">
        <summary className={`${btn} list-none ${canType ? '' : 'pointer-events-none opacity-50'}`} aria-disabled={!canType}>
          Send key ▾
        </summary>
        <ul className="absolute left-0 z-20 mt-1 max-h-80 w-52 overflow-y-auto rounded-md border border-slate-700 bg-slate-900 py-1 shadow-lg" role="menu">
          {SEND_KEYS_MENU.map((k) => (
            <li key={k.id} role="none">
              <button
                type="button"
                role="menuitem"
                className="block w-full px-3 py-1 text-left text-xs hover:bg-slate-700 disabled:opacity-50"
                disabled={!canType}
                onClick={() => {
                  sendEvents(k.events);
                  if (menu.current) menu.current.open = false;
                }}
                data-testid={`vnc-sendkey-${k.id}`}
              >
                {k.label}
              </button>
            </li>
          ))}
        </ul>
      </details>

      <button type="button" className={btn} disabled={!canType} onClick={() => setPasteOpen(true)} data-testid="vnc-paste" title="Type text into the guest">
        Paste as keys
      </button>

      <label className="ml-1 flex items-center gap-1 text-xs">
        <span className="sr-only sm:not-sr-only">Scale</span>
        <select
          className="rounded border border-slate-600 bg-slate-800 px-1 py-0.5 text-xs text-slate-100"
          value={p.scale}
          onChange={(e) => p.onScale(e.target.value as ScaleMode)}
          data-testid="vnc-scale"
        >
          {(Object.keys(SCALE_LABEL) as ScaleMode[]).map((m) => (
            <option key={m} value={m}>
              {SCALE_LABEL[m]}
            </option>
          ))}
        </select>
      </label>

      <label className="ml-1 flex items-center gap-1 text-xs" title={p.forceViewOnly ? 'Viewers cannot send input' : 'Do not send keyboard or mouse input'}>
        <input type="checkbox" checked={p.viewOnly} disabled={p.forceViewOnly} onChange={(e) => p.onViewOnly(e.target.checked)} data-testid="vnc-viewonly" />
        View only
      </label>

      <button type="button" className={btn} disabled={!rfb} onClick={screenshot} data-testid="vnc-screenshot">
        Screenshot
      </button>
      <button type="button" className={btn} onClick={toggleFullscreen} data-testid="vnc-fullscreen" aria-pressed={fullscreen}>
        {fullscreen ? 'Exit full screen' : 'Full screen'}
      </button>
      {!p.popout && (
        <button type="button" className={btn} onClick={popOut} data-testid="vnc-popout" title="Open the console in its own window">
          Pop out
        </button>
      )}

      {p.statusSlot}
      <PasteDialog open={pasteOpen} onClose={() => setPasteOpen(false)} sendKey={sendKey} />
    </div>
  );
}
