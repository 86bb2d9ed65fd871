'use client';
/**
 * The serial console: xterm.js on /ws/serial/<id>.
 *
 * The server replays the VM's recent serial output (up to 256 KiB) as the first message of every
 * connection, so a reload or a reconnect shows the history; the terminal is reset before each
 * connection so the replay does not double what is already on screen. A lost connection (server
 * restart, network, QEMU restart) reconnects with backoff and a fresh ticket. A stopped VM shows the
 * output of its last run (GET /api/vms/{id}/serial) and connects when it starts.
 *
 * xterm.js and its fit addon are imported dynamically, like noVNC: only when the tab opens.
 *
 * Test ids: serial-terminal (the xterm container; typing goes to its focused textarea), serial-status
 * (text and data-state: connecting | connected | reconnecting | disconnected).
 */
import '@xterm/xterm/css/xterm.css';
import type { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { api, errorMessage } from '@/components/api';
import { backoffMs, fetchTicket, STATUS_LABEL, wsUrl, type ConsoleStatus } from './connection';

/** What a stopped VM shows: the same history the websocket would replay. */
const HISTORY_BYTES = 256 * 1024;

export function SerialConsole({ vm, viewOnly, live, popout = false }: { vm: VmView; viewOnly: boolean; live: boolean; popout?: boolean }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<ConsoleStatus>('connecting');
  const [error, setError] = useState<string | null>(null);
  const viewOnlyRef = useRef(viewOnly);
  viewOnlyRef.current = viewOnly;

  useEffect(() => {
    let cancelled = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ws: WebSocket | null = null;
    let term: Terminal | null = null;
    let resizeObs: ResizeObserver | null = null;
    const ac = new AbortController();
    const encoder = new TextEncoder();

    const retry = () => {
      if (cancelled) return;
      attempt++;
      setStatus('reconnecting');
      timer = setTimeout(connect, backoffMs(attempt));
    };

    // No QEMU: no websocket (tickets need a running VM), just the output of the last run.
    const showHistory = async () => {
      setStatus('disconnected');
      try {
        const text = await api<string>('GET', `/api/vms/${encodeURIComponent(vm.id)}/serial?tail=${HISTORY_BYTES}`, undefined, { text: true, signal: ac.signal });
        if (!cancelled) term?.write(text);
      } catch (e) {
        if (!cancelled && (e as Error).name !== 'AbortError') setError(errorMessage(e));
      }
    };

    const connect = async () => {
      if (cancelled || !term) return;
      if (!live) return void showHistory();
      setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      let url: string;
      try {
        url = wsUrl((await fetchTicket(vm.id, 'serial', ac.signal)).url);
      } catch (e) {
        if (cancelled || (e as Error).name === 'AbortError') return;
        setError(errorMessage(e));
        retry();
        return;
      }
      if (cancelled) return;
      const sock = new WebSocket(url, ['binary']);
      sock.binaryType = 'arraybuffer';
      ws = sock;
      sock.onopen = () => {
        attempt = 0;
        setError(null);
        setStatus('connected');
        term?.reset(); // the server replays the history next: start from a clean screen
      };
      sock.onmessage = (ev) => {
        term?.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
      };
      sock.onclose = () => {
        if (ws === sock) ws = null;
        retry();
      };
    };

    const start = async () => {
      const [{ Terminal }, { FitAddon }] = await Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]);
      if (cancelled || !hostRef.current) return;
      term = new Terminal({
        cursorBlink: true,
        scrollback: 10_000,
        fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
        fontSize: 13,
        theme: { background: '#020617', foreground: '#e2e8f0' },
        // The guest owns line discipline; do not translate what it sends.
        convertEol: false,
      });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(hostRef.current);
      fit.fit();
      resizeObs = new ResizeObserver(() => {
        try {
          fit.fit();
        } catch {
          // not visible right now
        }
      });
      resizeObs.observe(hostRef.current);
      const send = (data: Uint8Array | string) => {
        if (viewOnlyRef.current || !ws || ws.readyState !== WebSocket.OPEN) return;
        ws.send(typeof data === 'string' ? encoder.encode(data) : data);
      };
      term.onData((d) => send(d));
      // Binary input (some mouse reports) is bytes in a JS string, one char per byte.
      term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
      void connect();
    };

    void start();
    return () => {
      cancelled = true;
      ac.abort();
      clearTimeout(timer);
      resizeObs?.disconnect();
      const sock = ws;
      ws = null;
      sock?.close();
      term?.dispose();
    };
  }, [vm.id, live]);

  return (
    <div className={`flex min-h-0 flex-col bg-slate-950 ${popout ? 'h-full' : 'rounded-lg border border-slate-800'}`}>
      <div className="flex items-center gap-2 border-b border-slate-800 px-3 py-1.5 text-xs text-slate-300">
        <span>Serial port (ttyS0)</span>
        {viewOnly && <span className="rounded bg-slate-800 px-1.5 py-0.5">view only</span>}
        <span
          role="status"
          aria-live="polite"
          className={`ml-auto font-medium ${status === 'connected' ? 'text-emerald-400' : 'text-amber-300'}`}
          data-testid="serial-status"
          data-state={status}
          title={STATUS_LABEL[status]}
        >
          {status}
        </span>
      </div>
      {error && status !== 'connected' && <p className="bg-amber-950/60 px-3 py-1.5 text-xs text-amber-200">{error}</p>}
      <div className={`relative w-full ${popout ? 'min-h-0 flex-1' : 'h-[70vh] min-h-[360px]'}`}>
        <div ref={hostRef} className="absolute inset-0 p-1" data-testid="serial-terminal" aria-label={`Serial console of ${vm.name}`} />
      </div>
    </div>
  );
}
