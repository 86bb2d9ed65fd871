'use client';
/**
 * Delete a VM: the dialog names it, asks for its name to be typed, and offers to delete its disk
 * volumes too (DELETE /api/vms/{id}?deleteDisks=true). A running VM cannot be deleted (409
 * VM_RUNNING); the dialog says so before the user tries.
 * Test ids: delete-vm-dialog, delete-confirm-input, delete-disks-checkbox, delete-confirm, delete-error.
 */
import { useState } from 'react';
import type { VmView } from '@/lib/schemas';
import { api, errorMessage } from '../api';
import { Button } from '../ui/Button';
import { Dialog } from '../ui/Dialog';
import { FormError } from '../ui/Field';

export function DeleteVmDialog({ vm, open, onClose, onDeleted }: { vm: VmView; open: boolean; onClose: () => void; onDeleted: () => void }) {
  const [typed, setTyped] = useState('');
  const [deleteDisks, setDeleteDisks] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = vm.state !== 'shutoff' && vm.state !== 'crashed';

  const close = () => {
    setTyped('');
    setDeleteDisks(false);
    setError(null);
    onClose();
  };

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await api('DELETE', `/api/vms/${encodeURIComponent(vm.id)}?deleteDisks=${deleteDisks}`);
      setBusy(false);
      close();
      onDeleted();
    } catch (e) {
      setBusy(false);
      setError(errorMessage(e));
    }
  };

  return (
    <Dialog
      open={open}
      onClose={close}
      busy={busy}
      size="sm"
      testId="delete-vm-dialog"
      title={`Delete “${vm.name}”?`}
      description="The VM’s configuration is removed for good."
      footer={
        <>
          <Button onClick={close} disabled={busy}>
            Cancel
          </Button>
          <Button variant="danger" busy={busy} disabled={typed !== vm.name || running} onClick={submit} data-testid="delete-confirm">
            Delete VM
          </Button>
        </>
      }
    >
      <form
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault();
          if (typed === vm.name && !running && !busy) void submit();
        }}
      >
        {running && (
          <p className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950/50 dark:text-amber-200">
            “{vm.name}” is {vm.state}. Shut it down or force it off first.
          </p>
        )}
        <div>
          <label htmlFor="delete-confirm-input" className="label">
            Type <span className="font-mono font-semibold">{vm.name}</span> to confirm
          </label>
          <input id="delete-confirm-input" className="input font-mono" autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} data-testid="delete-confirm-input" />
        </div>
        <label className="flex items-start gap-2 text-sm">
          <input type="checkbox" className="mt-0.5 h-4 w-4" checked={deleteDisks} onChange={(e) => setDeleteDisks(e.target.checked)} data-testid="delete-disks-checkbox" />
          <span>
            Also delete its disks
            {vm.disks.length > 0 ? (
              <span className="muted block font-mono text-xs">{vm.disks.map((d) => d.volume).join(', ')}</span>
            ) : (
              <span className="muted block text-xs">(it has none)</span>
            )}
          </span>
        </label>
        <FormError message={error} testId="delete-error" />
      </form>
    </Dialog>
  );
}
