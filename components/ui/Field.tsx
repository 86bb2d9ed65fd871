'use client';
/**
 * A labelled form control with its hint and inline error. The error is tied to the control with
 * aria-describedby + aria-invalid so a screen reader reads it when the control gets focus.
 */
import { useId, type ReactElement, type ReactNode, cloneElement } from 'react';

export interface FieldProps {
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  /** data-testid for the error text, e.g. wizard-error-name. */
  errorTestId?: string;
  className?: string;
  /** The control: an <input>, <select> or <textarea>. It gets id, aria-invalid and aria-describedby. */
  children: ReactElement<Record<string, unknown>>;
}

export function Field({ label, hint, error, errorTestId, className = '', children }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  // The error replaces the hint: both at once mostly say the same thing twice.
  const showHint = hint && !error;
  const describedBy = [showHint ? hintId : null, error ? errId : null].filter(Boolean).join(' ') || undefined;
  const control = cloneElement(children, {
    id: (children.props.id as string | undefined) ?? id,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy,
  });
  const controlId = (children.props.id as string | undefined) ?? id;
  return (
    <div className={className}>
      <label htmlFor={controlId} className="label">
        {label}
      </label>
      {control}
      {showHint && (
        <p id={hintId} className="muted mt-1 text-xs">
          {hint}
        </p>
      )}
      {error && (
        <p id={errId} className="mt-1 text-xs font-medium text-red-700 dark:text-red-400" data-testid={errorTestId}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A form-level error (not tied to one field), e.g. a server error with no field path. */
export function FormError({ message, testId }: { message?: string | null; testId?: string }) {
  if (!message) return null;
  return (
    <div role="alert" data-testid={testId} className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950/50 dark:text-red-200">
      {message}
    </div>
  );
}
