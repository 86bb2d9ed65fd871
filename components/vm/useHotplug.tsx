'use client';
/**
 * Click-to-hotplug plumbing for the VM details page (issue 5):
 * - useHotplug(vm).run(): one request to a dedicated hotplug endpoint (PUT vcpus/memory/balloon/
 *   cdrom, POST/DELETE disks and nics), whose answer {result, reason?, device?, vm} is applied at
 *   once (the same snapshot then also arrives over /ws/events) and reported;
 * - reportFromView(): the same report for a change made with PATCH, read from the new snapshot's
 *   per-device state (VmView.devices);
 * - <HotplugStatus>: one page-level live region that says what the last change did to the running
 *   VM: live, pending at next boot (with the reason), unplug pending, or saved (VM off).
 *
 * Test ids: hotplug-result (data-result="live|pending|unplug-pending|saved"), hotplug-reason,
 * hotplug-error, hotplug-dismiss.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import type { VmView } from '@/lib/schemas';
import type { HotplugResponse, HotplugResult } from '@/lib/schemas/hotplug';
import { api, errorMessage } from '../api';
import { CloseIcon } from '../ui/icons';
import { useVmEvents } from './useVmEvents';

export interface HotplugReport {
  result: HotplugResult | 'error';
  /** What was asked, e.g. "vCPUs 1 → 2". */
  what: string;
  reason?: string;
  /** Increments on every report, so the same text twice is still announced. */
  seq: number;
}

interface ReportCtx {
  report: HotplugReport | null;
  setReport: (r: Omit<HotplugReport, 'seq'> | null) => void;
}

const Ctx = createContext<ReportCtx | null>(null);

export function HotplugReportProvider({ children }: { children: ReactNode }) {
  const [report, set] = useState<HotplugReport | null>(null);
  const seq = useRef(0);
  const setReport = useCallback((r: Omit<HotplugReport, 'seq'> | null) => set(r ? { ...r, seq: ++seq.current } : null), []);
  const value = useMemo(() => ({ report, setReport }), [report, setReport]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

const NO_REPORTS: ReportCtx = { report: null, setReport: () => undefined };

/** The page's report (a no-op outside <HotplugReportProvider>). */
export function useHotplugReport(): ReportCtx {
  return useContext(Ctx) ?? NO_REPORTS;
}

/**
 * The report for a change made by PATCH, read from the VM it returned: the device's state, or,
 * for a device that is gone from the running VM, "removed live".
 */
export function reportFromView(what: string, vm: VmView, deviceId: string): Omit<HotplugReport, 'seq'> {
  if (!vm.runtime || !vm.devices) return { result: 'saved', what };
  const st = vm.devices[deviceId];
  if (!st || st.state === 'live') return { result: 'live', what };
  if (st.state === 'unplugging') return { result: 'unplug-pending', what, reason: st.reason };
  return { result: 'pending', what, reason: st.reason };
}

export function useHotplug(vm: VmView) {
  const { upsert } = useVmEvents();
  const { setReport } = useHotplugReport();
  const [busy, setBusy] = useState<string | null>(null);
  const inFlight = useRef(false);

  /**
   * Sends one hotplug request. `key` names the control that shows the spinner; `path` is relative
   * to /api/vms/{id}. Resolves to the answer, or null after an error (which is reported).
   */
  const run = useCallback(
    async (key: string, what: string, method: string, path: string, body?: unknown): Promise<HotplugResponse | null> => {
      // One at a time from this page (the server serialises per VM anyway).
      if (inFlight.current) return null;
      inFlight.current = true;
      setBusy(key);
      try {
        const r = await api<HotplugResponse>(method, `/api/vms/${encodeURIComponent(vm.id)}${path}`, body);
        upsert(r.vm);
        setReport({ result: r.result, what, reason: r.reason });
        return r;
      } catch (e) {
        setReport({ result: 'error', what, reason: errorMessage(e) });
        return null;
      } finally {
        inFlight.current = false;
        setBusy(null);
      }
    },
    [vm.id, upsert, setReport],
  );
  return { run, busy };
}

const HEAD: Record<HotplugReport['result'], string> = {
  live: 'Done live: the running VM has it now.',
  pending: 'Saved; applies at next boot.',
  'unplug-pending': 'Removal requested; waiting for the guest to release it.',
  saved: 'Saved (the VM is not running).',
  error: 'Not done.',
};

const STYLE: Record<HotplugReport['result'], string> = {
  live: 'border-emerald-300 bg-emerald-50 text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950/40 dark:text-emerald-100',
  pending: 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-700 dark:bg-amber-950/40 dark:text-amber-100',
  'unplug-pending': 'border-sky-300 bg-sky-50 text-sky-900 dark:border-sky-800 dark:bg-sky-950/40 dark:text-sky-100',
  saved: 'border-slate-300 bg-slate-50 text-slate-900 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100',
  error: 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950/40 dark:text-red-100',
};

/**
 * The live regions for the last hotplug result. Both are always in the DOM (a region that appears
 * together with its text is often not announced): a polite one for outcomes, an assertive one for
 * errors.
 */
export function HotplugStatus() {
  const { report, setReport } = useHotplugReport();
  const box = (r: HotplugReport) => (
    <div key={r.seq} className={`flex items-start gap-2 rounded-md border px-3 py-2 text-sm ${STYLE[r.result]}`}>
      <p className="min-w-0 flex-1">
        <span className="font-medium">{r.what}</span> — {HEAD[r.result]}
        {r.reason && (
          <>
            {' '}
            <span data-testid={r.result === 'error' ? undefined : 'hotplug-reason'}>{r.reason}</span>
          </>
        )}
      </p>
      <button type="button" className="btn btn-ghost btn-icon -m-1 h-6 w-6 shrink-0" onClick={() => setReport(null)} aria-label="Dismiss" data-testid="hotplug-dismiss">
        <CloseIcon width={14} height={14} />
      </button>
    </div>
  );
  const ok = report && report.result !== 'error' ? report : null;
  const err = report && report.result === 'error' ? report : null;
  return (
    <>
      <div role="status" aria-live="polite" aria-atomic="true" data-testid="hotplug-result" data-result={ok?.result ?? ''} className={ok ? 'mb-3' : undefined}>
        {ok && box(ok)}
      </div>
      <div role="alert" aria-live="assertive" aria-atomic="true" data-testid="hotplug-error" className={err ? 'mb-3' : undefined}>
        {err && box(err)}
      </div>
    </>
  );
}
