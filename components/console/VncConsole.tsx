'use client';
/**
 * The graphical console: noVNC on /ws/vnc/<id>, with the toolbar above it.
 *
 * noVNC is imported dynamically inside the connect loop, so its code (and its top-level await) is only
 * fetched when a console actually opens. Each connection takes a fresh one-time ticket and VNC password
 * from POST /api/vms/{id}/console. On any disconnect while the VM has a QEMU process, the loop
 * reconnects with backoff and a new ticket: a guest reboot keeps the VNC connection, a VM restart
 * replaces QEMU (and its socket), and both end up "connected" again without a click.
 *
 * Keyboard: noVNC uses QEMU's extended key events (scancodes) whenever the server offers them, which
 * QEMU does, so the guest's own layout applies and non-US keyboards work.
 *
 * View-only: a viewer's tickets are view-only, enforced by the server (server/vnc/rfb-filter.ts); for
 * everyone else the toggle is a local convenience (rfb.viewOnly), so it needs no reconnect.
 *
 * Test ids: vnc-screen (the noVNC container; its <canvas> is the screen), vnc-status (data-state too),
 * vnc-error, and the toolbar's (VncToolbar.tsx).
 */
import type RFB from '@novnc/novnc';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { errorMessage } from '@/components/api';
import { backoffMs, fetchTicket, hasQemu, STATUS_LABEL, wsUrl, type ConsoleStatus } from './connection';
import { VncToolbar, type ScaleMode } from './VncToolbar';

export interface VncConsoleProps {
  vm: VmView;
  /** The user is a viewer: no input at all (the server enforces it too). */
  forceViewOnly: boolean;
  /** Rendered in the pop-out window: fill the window. */
  popout?: boolean;
}

function applyScale(rfb: RFB, mode: ScaleMode) {
  rfb.scaleViewport = mode === 'fit';
  rfb.resizeSession = mode === 'remote';
  rfb.clipViewport = false;
}

export function VncConsole({ vm, forceViewOnly, popout = false }: VncConsoleProps) {
  const screenRef = useRef<HTMLDivElement>(null);
  const frameRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [status, setStatus] = useState<ConsoleStatus>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [desktop, setDesktop] = useState<string | null>(null);
  const [scale, setScale] = useState<ScaleMode>('fit');
  const [viewOnly, setViewOnly] = useState(forceViewOnly);
  const [, setConnectedRfb] = useState<RFB | null>(null); // re-render the toolbar when the RFB changes
  const settings = useRef({ scale, viewOnly });
  settings.current = { scale, viewOnly: viewOnly || forceViewOnly };
  const live = hasQemu(vm);

  useEffect(() => {
    if (!live) {
      setStatus('disconnected');
      return;
    }
    let cancelled = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ac = new AbortController();

    const retry = () => {
      if (cancelled) return;
      attempt++;
      setStatus('reconnecting');
      timer = setTimeout(connect, backoffMs(attempt));
    };

    const connect = async () => {
      if (cancelled) return;
      setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      let rfb: RFB;
      try {
        const ticket = await fetchTicket(vm.id, 'vnc', ac.signal);
        const { default: RFBClass } = await import('@novnc/novnc');
        if (cancelled || !screenRef.current) return;
        rfb = new RFBClass(screenRef.current, wsUrl(ticket.url), {
          shared: true,
          credentials: { password: ticket.password ?? '' },
          wsProtocols: ['binary'],
        });
        rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: ticket.password ?? '' }));
      } catch (e) {
        if (cancelled || (e as Error).name === 'AbortError') return;
        setError(errorMessage(e));
        retry();
        return;
      }
      rfb.background = '#0f172a';
      rfb.focusOnClick = true;
      rfb.viewOnly = settings.current.viewOnly;
      applyScale(rfb, settings.current.scale);
      rfb.addEventListener('connect', () => {
        if (cancelled) return;
        attempt = 0;
        setError(null);
        setStatus('connected');
      });
      rfb.addEventListener('desktopname', (e) => setDesktop((e as CustomEvent<{ name: string }>).detail.name));
      rfb.addEventListener('securityfailure', (e) => {
        const d = (e as CustomEvent<{ status: number; reason?: string }>).detail;
        setError(`VNC authentication failed${d.reason ? `: ${d.reason}` : ''}`);
      });
      rfb.addEventListener('disconnect', () => {
        if (rfbRef.current === rfb) {
          rfbRef.current = null;
          setConnectedRfb(null);
        }
        retry();
      });
      rfbRef.current = rfb;
      setConnectedRfb(rfb);
    };

    void connect();
    return () => {
      cancelled = true;
      ac.abort();
      clearTimeout(timer);
      const rfb = rfbRef.current;
      rfbRef.current = null;
      setConnectedRfb(null);
      try {
        rfb?.disconnect();
      } catch {
        // already disconnected
      }
    };
  }, [vm.id, live]);

  useEffect(() => {
    const rfb = rfbRef.current;
    if (rfb) applyScale(rfb, scale);
  }, [scale, status]);

  useEffect(() => {
    const rfb = rfbRef.current;
    if (rfb) rfb.viewOnly = viewOnly || forceViewOnly;
  }, [viewOnly, forceViewOnly, status]);

  const getRfb = useCallback(() => (status === 'connected' ? rfbRef.current : null), [status]);

  return (
    <div ref={frameRef} className={`flex min-h-0 flex-col bg-slate-900 ${popout ? 'h-full' : 'rounded-lg border border-slate-800'}`} data-testid="vnc-console">
      <VncToolbar
        vm={vm}
        getRfb={getRfb}
        frameRef={frameRef}
        scale={scale}
        onScale={setScale}
        viewOnly={viewOnly || forceViewOnly}
        forceViewOnly={forceViewOnly}
        onViewOnly={setViewOnly}
        popout={popout}
        statusSlot={
          <span
            role="status"
            aria-live="polite"
            className={`ml-auto text-xs font-medium ${status === 'connected' ? 'text-emerald-400' : status === 'disconnected' ? 'text-slate-400' : 'text-amber-300'}`}
            data-testid="vnc-status"
            data-state={status}
            title={desktop ? `${STATUS_LABEL[status]} · ${desktop}` : STATUS_LABEL[status]}
          >
            {status}
          </span>
        }
      />
      {error && status !== 'connected' && (
        <p className="border-b border-slate-800 bg-amber-950/60 px-3 py-1.5 text-xs text-amber-200" data-testid="vnc-error">
          {error}
        </p>
      )}
      {/* noVNC sizes its screen with height: 100%, which needs a definite height: hence absolute inset-0. */}
      <div className={`relative w-full ${popout ? 'min-h-0 flex-1' : 'h-[70vh] min-h-[360px]'}`}>
        <div ref={screenRef} className="absolute inset-0 overflow-hidden" data-testid="vnc-screen" aria-label={`Screen of ${vm.name}`} />
      </div>
    </div>
  );
}
