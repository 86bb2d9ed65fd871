/**
 * The live state of one device of a running VM (VmView.devices, from the hotplug control plane):
 * live, pending (with what the next boot does and why) or unplugging (waiting for the guest).
 * The reason is always in the accessible name; `showReason` also prints it next to the badge.
 * Test ids: device-state-<id>, with data-state="live|pending|unplugging"; device-reason-<id>.
 */
import type { DeviceState } from '@/lib/schemas';

const ACTION: Record<NonNullable<DeviceState['action']>, string> = { add: 'added', remove: 'removed', change: 'changed' };

export function DeviceStateBadge({ id, state, showReason = false }: { id: string; state: DeviceState | undefined; showReason?: boolean }) {
  if (!state) return null;
  const reason = state.reason && (
    <span className={showReason ? 'muted text-xs' : 'sr-only'} data-testid={`device-reason-${id}`}>
      {showReason ? state.reason : ` (${state.reason})`}
    </span>
  );
  if (state.state === 'live') {
    return (
      <span
        className="inline-flex items-center gap-1.5 rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200"
        data-testid={`device-state-${id}`}
        data-state="live"
        title="In use by the running VM"
      >
        <span className="h-1.5 w-1.5 rounded-full bg-emerald-500" aria-hidden />
        live
        <span className="sr-only"> (in use by the running VM)</span>
      </span>
    );
  }
  if (state.state === 'unplugging') {
    return (
      <span className="inline-flex flex-wrap items-center gap-x-2 gap-y-1">
        <span
          className="inline-flex items-center gap-1.5 rounded-full bg-sky-100 px-2 py-0.5 text-xs font-medium text-sky-800 dark:bg-sky-900/50 dark:text-sky-200"
          data-testid={`device-state-${id}`}
          data-state="unplugging"
          title={state.reason}
        >
          <span className="h-1.5 w-1.5 animate-pulse rounded-full bg-sky-500 motion-reduce:animate-none" aria-hidden />
          unplugging…
        </span>
        {reason}
      </span>
    );
  }
  return (
    <span className="inline-flex flex-wrap items-center gap-x-2 gap-y-1">
      <span
        className="inline-flex items-center gap-1.5 rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-900/50 dark:text-amber-100"
        data-testid={`device-state-${id}`}
        data-state="pending"
        title={state.reason}
      >
        <span className="h-1.5 w-1.5 rounded-full bg-amber-500" aria-hidden />
        pending · {state.action ? `${ACTION[state.action]} at next boot` : 'applies at next boot'}
      </span>
      {reason}
    </span>
  );
}
