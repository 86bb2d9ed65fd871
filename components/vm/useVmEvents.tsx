'use client';
/**
 * Live VM state for every page: one /ws/events connection per tab, kept in the (main) layout so it
 * survives navigation. The server sends `hello` (every VM), then a VM's whole new snapshot whenever
 * it changes; we keep them in a Map and never patch a VM ourselves, except to apply the VmView an
 * action's response already carries (so the row updates even before the event arrives).
 *
 * The connection reconnects with exponential backoff (1 s doubling to 30 s, with jitter) whenever it
 * drops, or after the `retryMs` a `server-restarting` message asks for. Until the first `hello`, a
 * plain GET /api/vms fills the list so the page is not empty while the socket connects.
 *
 * Messages are not zod-validated here on purpose: that would pull zod into the dashboard's first
 * load. The server validates what it sends (lib/schemas/events.ts).
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { EventMessage, VmView } from '@/lib/schemas';
import { api } from '../api';
import { useToast } from '../ui/Toast';

/** How many cpuPercent samples a sparkline keeps per VM. */
export const CPU_HISTORY = 40;

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

interface VmEvents {
  vms: Map<string, VmView>;
  /** True once the list has been loaded once (by GET or by hello). */
  loaded: boolean;
  connection: ConnectionState;
  /** cpuPercent samples per VM id, oldest first. */
  cpuHistory: Map<string, number[]>;
  /** Apply a VmView an API response returned. */
  upsert: (vm: VmView) => void;
  remove: (id: string) => void;
}

const Ctx = createContext<VmEvents | null>(null);

export function useVmEvents(): VmEvents {
  const c = useContext(Ctx);
  if (!c) throw new Error('useVmEvents outside <VmEventsProvider>');
  return c;
}

/** One VM by id, live; undefined until known. */
export function useVm(id: string): VmView | undefined {
  return useVmEvents().vms.get(id);
}

function pushSample(history: Map<string, number[]>, vm: VmView): Map<string, number[]> {
  const pct = vm.runtime?.cpuPercent;
  if (!vm.runtime) {
    if (!history.has(vm.id)) return history;
    const h = new Map(history);
    h.delete(vm.id);
    return h;
  }
  if (pct === null || pct === undefined) return history;
  const h = new Map(history);
  const prev = h.get(vm.id) ?? [];
  h.set(vm.id, [...prev.slice(-(CPU_HISTORY - 1)), pct]);
  return h;
}

export function VmEventsProvider({ children }: { children: ReactNode }) {
  const [vms, setVms] = useState<Map<string, VmView>>(() => new Map());
  const [cpuHistory, setCpuHistory] = useState<Map<string, number[]>>(() => new Map());
  const [loaded, setLoaded] = useState(false);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const gotHello = useRef(false);
  const toast = useToast();
  const toastRef = useRef(toast);
  toastRef.current = toast;

  // The Map also lives in a ref so apply() can compare with the current snapshot synchronously:
  // the same snapshot twice (an action's response, then its event) must not add a CPU sample.
  const vmsRef = useRef(vms);
  const setAll = useCallback((m: Map<string, VmView>) => {
    vmsRef.current = m;
    setVms(m);
  }, []);

  const apply = useCallback(
    (vm: VmView) => {
      const prev = vmsRef.current.get(vm.id);
      if (prev && JSON.stringify(prev) === JSON.stringify(vm)) return;
      const n = new Map(vmsRef.current);
      n.set(vm.id, vm);
      setAll(n);
      setCpuHistory((h) => pushSample(h, vm));
    },
    [setAll],
  );

  const remove = useCallback(
    (id: string) => {
      if (vmsRef.current.has(id)) {
        const n = new Map(vmsRef.current);
        n.delete(id);
        setAll(n);
      }
      setCpuHistory((h) => {
        if (!h.has(id)) return h;
        const n = new Map(h);
        n.delete(id);
        return n;
      });
    },
    [setAll],
  );

  // First paint: a plain GET, in case the socket takes a while.
  useEffect(() => {
    let live = true;
    api<{ vms: VmView[]; problems?: { file: string; message: string }[] }>('GET', '/api/vms')
      .then(({ vms: list, problems }) => {
        // Config files the server could not load: those VMs are missing from the list, say so.
        if (live && problems?.length) {
          toastRef.current.error(problems.map((p) => `${p.file}: ${p.message}`).join('\n'), `${problems.length} VM config file${problems.length === 1 ? '' : 's'} could not be loaded`);
        }
        if (!live || gotHello.current) return;
        setAll(new Map(list.map((v) => [v.id, v])));
        setLoaded(true);
      })
      .catch((e) => {
        if (live && !gotHello.current) toastRef.current.error((e as Error).message, 'Could not load the VM list');
      });
    return () => {
      live = false;
    };
  }, [setAll]);

  useEffect(() => {
    let disposed = false;
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let failures = 0;
    let retryOverride: number | null = null;

    const schedule = () => {
      if (disposed) return;
      setConnection('reconnecting');
      const backoff = Math.min(30000, 1000 * 2 ** Math.min(failures, 5));
      const delay = retryOverride ?? backoff * (0.75 + Math.random() * 0.5);
      retryOverride = null;
      failures++;
      // After a few failed tries, make sure the session is still valid (api() redirects on 401).
      if (failures === 3) api('GET', '/api/auth/me').catch(() => undefined);
      timer = setTimeout(connect, delay);
    };

    const onMessage = (ev: MessageEvent) => {
      let msg: EventMessage;
      try {
        msg = JSON.parse(String(ev.data)) as EventMessage;
      } catch {
        return;
      }
      switch (msg.type) {
        case 'hello':
          gotHello.current = true;
          failures = 0;
          setAll(new Map(msg.vms.map((v) => [v.id, v])));
          setCpuHistory((h) => {
            let n = new Map<string, number[]>();
            for (const v of msg.vms) if (v.runtime && h.has(v.id)) n.set(v.id, h.get(v.id)!);
            for (const v of msg.vms) n = pushSample(n, v);
            return n;
          });
          setLoaded(true);
          setConnection('live');
          break;
        case 'vm':
          apply(msg.vm);
          break;
        case 'vm-deleted':
          remove(msg.id);
          break;
        case 'server-restarting':
          retryOverride = Math.max(250, msg.retryMs);
          toastRef.current.info('The server is restarting; reconnecting shortly.');
          break;
        case 'notice':
          toastRef.current.push({ level: msg.level, message: msg.message, title: msg.level === 'error' ? 'Background task failed' : undefined });
          break;
      }
    };

    function connect() {
      if (disposed) return;
      const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
      const sock = new WebSocket(`${proto}//${window.location.host}/ws/events`);
      ws = sock;
      sock.onmessage = onMessage;
      sock.onclose = () => {
        if (ws === sock) ws = null;
        schedule();
      };
      // onerror is always followed by onclose, which reconnects.
    }

    connect();
    return () => {
      disposed = true;
      if (timer) clearTimeout(timer);
      if (ws) {
        ws.onclose = null;
        ws.onmessage = null;
        ws.close();
      }
    };
  }, [apply, remove, setAll]);

  const value = useMemo<VmEvents>(() => ({ vms, loaded, connection, cpuHistory, upsert: apply, remove }), [vms, loaded, connection, cpuHistory, apply, remove]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
