'use client';
/**
 * Serial: the tail of the guest's serial output (GET /api/vms/{id}/serial?tail=65536), refreshed
 * every 2 s while the VM runs. It keeps the view pinned to the bottom unless the user scrolled up.
 * The interactive serial console (xterm.js) is part of the Console tab.
 * Test ids: serial-output, serial-refresh.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { api, errorMessage } from '@/components/api';
import { Button } from '@/components/ui/Button';
import { RefreshIcon } from '@/components/ui/icons';

// Escape sequences (colours, cursor moves) would show as garbage in a <pre>.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]/g;

export function SerialPane({ vm }: { vm: VmView }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  const running = vm.runtime !== null;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      setLoading(true);
      try {
        const t = await api<string>('GET', `/api/vms/${encodeURIComponent(vm.id)}/serial?tail=65536`, undefined, { text: true, signal });
        setText(t.replace(ANSI, '').replace(/\r\n?/g, '\n'));
        setError(null);
      } catch (e) {
        if ((e as Error).name !== 'AbortError') setError(errorMessage(e));
      } finally {
        setLoading(false);
      }
    },
    [vm.id],
  );

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    if (!running) return () => ac.abort();
    const t = setInterval(() => void load(ac.signal), 2000);
    return () => {
      clearInterval(t);
      ac.abort();
    };
  }, [load, running]);

  useEffect(() => {
    const el = pre.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [text]);

  return (
    <section className="card p-4 sm:p-5" aria-labelledby="serial-title" data-testid="editor-serial">
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <h2 id="serial-title" className="text-base font-semibold">
          Serial port
        </h2>
        <span className="muted text-sm">{running ? 'refreshing every 2 s' : 'output of the last run'}</span>
        <Button size="sm" className="ml-auto" icon={<RefreshIcon />} busy={loading} onClick={() => void load()} data-testid="serial-refresh">
          Refresh
        </Button>
      </div>
      {error && <p className="mb-2 text-sm text-red-700 dark:text-red-400">{error}</p>}
      <pre
        ref={pre}
        tabIndex={0}
        aria-label="Serial output"
        aria-live="off"
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        className="h-[28rem] max-h-[60vh] overflow-auto rounded-md bg-slate-950 p-3 font-mono text-xs leading-snug whitespace-pre-wrap text-slate-100"
        data-testid="serial-output"
      >
        {text === null ? 'Loading…' : text || '(no output yet)'}
      </pre>
    </section>
  );
}
