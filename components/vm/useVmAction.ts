'use client';
/**
 * Runs lifecycle actions (POST /api/vms/{id}/{action}) for one VM: tracks which one is in flight so
 * its button shows a spinner, applies the returned snapshot, and turns a failure into a toast (it is
 * a background action: no dialog to show it in).
 */
import { useCallback, useState } from 'react';
import type { LifecycleAction, VmView } from '@/lib/schemas';
import { api, errorMessage } from '../api';
import { useToast } from '../ui/Toast';
import { useVmEvents } from './useVmEvents';

export const ACTION_LABEL: Record<LifecycleAction, string> = {
  start: 'Start',
  shutdown: 'Shut down',
  poweroff: 'Force off',
  reboot: 'Reboot',
  reset: 'Reset',
  pause: 'Pause',
  resume: 'Resume',
};

export async function runVmAction(vm: Pick<VmView, 'id'>, action: LifecycleAction): Promise<VmView> {
  return api<VmView>('POST', `/api/vms/${encodeURIComponent(vm.id)}/${action}`);
}

export function useVmAction(vm: VmView | undefined) {
  const [busy, setBusy] = useState<LifecycleAction | null>(null);
  const { upsert } = useVmEvents();
  const toast = useToast();
  const run = useCallback(
    async (action: LifecycleAction) => {
      if (!vm) return;
      setBusy(action);
      try {
        upsert(await runVmAction(vm, action));
      } catch (e) {
        toast.error(errorMessage(e), `${ACTION_LABEL[action]} “${vm.name}” failed`);
      } finally {
        setBusy(null);
      }
    },
    [vm, upsert, toast],
  );
  return { busy, run };
}

/** Which actions make sense in which state (the server has the last word: 409 INVALID_STATE). */
export function actionsFor(vm: Pick<VmView, 'state' | 'shutdownIgnored'>): LifecycleAction[] {
  switch (vm.state) {
    case 'shutoff':
    case 'crashed':
      return ['start'];
    case 'running':
      return ['shutdown', 'reboot', 'pause', 'poweroff'];
    case 'paused':
      return ['resume', 'poweroff'];
    case 'starting':
    case 'shutting-down':
      return ['poweroff'];
    case 'stopping':
      return [];
  }
}
