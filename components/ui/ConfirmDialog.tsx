'use client';
/**
 * A yes/no dialog for destructive actions. `onConfirm` runs the request; while it runs the dialog
 * stays open with a spinner, and its error is shown inside the dialog.
 * Test ids: confirm-dialog, confirm-ok, confirm-error.
 */
import { useState, type ReactNode } from 'react';
import { errorMessage } from '../api';
import { Button } from './Button';
import { Dialog } from './Dialog';
import { FormError } from './Field';

export function ConfirmDialog({
  open,
  onClose,
  title,
  children,
  confirmLabel,
  danger = true,
  onConfirm,
}: {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const close = () => {
    setError(null);
    onClose();
  };
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setBusy(false);
      close();
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
      title={title}
      testId="confirm-dialog"
      footer={
        <>
          <Button onClick={close} disabled={busy}>
            Cancel
          </Button>
          <Button variant={danger ? 'danger' : 'primary'} busy={busy} onClick={run} data-testid="confirm-ok" data-autofocus>
            {confirmLabel}
          </Button>
        </>
      }
    >
      <div className="space-y-3 text-sm">
        {children}
        <FormError message={error} testId="confirm-error" />
      </div>
    </Dialog>
  );
}
