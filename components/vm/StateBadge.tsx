/** The VM state as a coloured badge. Its text is exactly the state string (e2e tests read it). */
import type { VmState } from '@/lib/schemas';

const STYLE: Record<VmState, string> = {
  running: 'bg-emerald-100 text-emerald-800 ring-emerald-600/30 dark:bg-emerald-900/50 dark:text-emerald-200 dark:ring-emerald-400/30',
  paused: 'bg-amber-100 text-amber-900 ring-amber-600/30 dark:bg-amber-900/50 dark:text-amber-200 dark:ring-amber-400/30',
  shutoff: 'bg-slate-100 text-slate-700 ring-slate-500/30 dark:bg-slate-800 dark:text-slate-300 dark:ring-slate-400/30',
  crashed: 'bg-red-100 text-red-800 ring-red-600/30 dark:bg-red-900/50 dark:text-red-200 dark:ring-red-400/30',
  starting: 'bg-sky-100 text-sky-800 ring-sky-600/30 dark:bg-sky-900/50 dark:text-sky-200 dark:ring-sky-400/30',
  'shutting-down': 'bg-sky-100 text-sky-800 ring-sky-600/30 dark:bg-sky-900/50 dark:text-sky-200 dark:ring-sky-400/30',
  stopping: 'bg-sky-100 text-sky-800 ring-sky-600/30 dark:bg-sky-900/50 dark:text-sky-200 dark:ring-sky-400/30',
};

const DOT: Record<VmState, string> = {
  running: 'bg-emerald-500',
  paused: 'bg-amber-500',
  shutoff: 'bg-slate-400',
  crashed: 'bg-red-500',
  starting: 'bg-sky-500 animate-pulse',
  'shutting-down': 'bg-sky-500 animate-pulse',
  stopping: 'bg-sky-500 animate-pulse',
};

export function StateBadge({ state, testId, title }: { state: VmState; testId?: string; title?: string }) {
  return (
    <span className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STYLE[state]}`} title={title}>
      <span className={`h-1.5 w-1.5 rounded-full ${DOT[state]}`} aria-hidden />
      <span data-testid={testId}>{state}</span>
    </span>
  );
}
