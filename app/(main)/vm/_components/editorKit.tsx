'use client';
/**
 * What every hardware editor shares: a draft that follows the live VM until the user edits it,
 * client-side validation with the shared PatchVmSchema, PATCH with the server's field errors mapped
 * back inline, the "applies at next boot" badges, and the Save / Revert bar.
 *
 * Test ids: editor-<item> (the pane), editor-save, editor-revert, editor-saved, editor-error,
 * pending-<field>, field-<name>, error-<name>.
 */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { PatchVmSchema, type PatchVm, type VmView } from '@/lib/schemas';
import { api, ApiRequestError, errorMessage, type ValidationIssue } from '@/components/api';
import { Button } from '@/components/ui/Button';
import { FormError } from '@/components/ui/Field';
import { DeviceStateBadge } from '@/components/vm/DeviceStateBadge';
import { useVmEvents } from '@/components/vm/useVmEvents';

export type Errors = Record<string, string>;

/**
 * A form draft derived from the VM. While the user has not changed it, it follows the VM's new
 * snapshots; once they have, their edits stay until Save or Revert.
 */
export function useDraft<T>(source: T) {
  const key = JSON.stringify(source);
  const [draft, setDraft] = useState<T>(source);
  const base = useRef(key);
  const dirty = JSON.stringify(draft) !== base.current;
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  const sourceRef = useRef(source);
  sourceRef.current = source;

  useEffect(() => {
    if (!dirtyRef.current) {
      base.current = key;
      setDraft(sourceRef.current);
    }
  }, [key]);

  const reset = useCallback(() => {
    base.current = JSON.stringify(sourceRef.current);
    setDraft(sourceRef.current);
  }, []);
  /** After a save: take `next` as the new clean state (the saved VM's values). */
  const rebase = useCallback((next: T) => {
    base.current = JSON.stringify(next);
    setDraft(next);
  }, []);
  const set = useCallback(<K extends keyof T>(k: K, v: T[K]) => setDraft((d) => ({ ...d, [k]: v })), []);
  return { draft, setDraft, set, dirty, reset, rebase };
}

/** Parse a whole number typed in a text field; an error message when it is not one. */
export function parseIntField(s: string, label: string): number | string {
  const t = s.trim();
  if (!/^-?\d+$/.test(t)) return `${label}: enter a whole number`;
  return Number(t);
}

/** Field errors keyed by the part of the path after `strip` (e.g. ['disks', 2] for a disk's fields). */
export function issuesToErrors(issues: ValidationIssue[], strip: (string | number)[] = []): { errors: Errors; rest: string[] } {
  const errors: Errors = {};
  const rest: string[] = [];
  for (const i of issues) {
    const p = i.path;
    const matches = strip.every((s, idx) => p[idx] === s);
    const key = matches ? p.slice(strip.length).join('.') : '';
    if (key && !errors[key]) errors[key] = i.message;
    else if (!key && matches && strip.length && !errors._) errors._ = i.message;
    else rest.push(p.length ? `${p.join('.')}: ${i.message}` : i.message);
  }
  return { errors, rest };
}

export interface SaveResult {
  ok: boolean;
  vm?: VmView;
}

/**
 * PATCH the VM. Validates with the shared schema first; maps issues under `strip` onto `setErrors`
 * and puts everything else in the form error.
 */
export function usePatch(vm: VmView) {
  const { upsert } = useVmEvents();
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [savedAt, setSavedAt] = useState<number | null>(null);

  const save = useCallback(
    async (patch: PatchVm, strip: (string | number)[] = []): Promise<SaveResult> => {
      setFormError(null);
      setErrors({});
      setSavedAt(null);
      const parsed = PatchVmSchema.safeParse(patch);
      if (!parsed.success) {
        const { errors: e, rest } = issuesToErrors(
          parsed.error.issues.map((i) => ({ path: i.path.map((x) => (typeof x === 'symbol' ? String(x) : x)), message: i.message })),
          strip,
        );
        setErrors(e);
        if (rest.length) setFormError(rest.join('\n'));
        return { ok: false };
      }
      setBusy(true);
      try {
        const next = await api<VmView>('PATCH', `/api/vms/${encodeURIComponent(vm.id)}`, parsed.data);
        upsert(next);
        setSavedAt(Date.now());
        return { ok: true, vm: next };
      } catch (err) {
        if (err instanceof ApiRequestError && err.issues.length) {
          const { errors: e, rest } = issuesToErrors(err.issues, strip);
          setErrors(e);
          setFormError(rest.length ? rest.join('\n') : Object.keys(e).length ? null : err.message);
        } else setFormError(errorMessage(err));
        return { ok: false };
      } finally {
        setBusy(false);
      }
    },
    [vm.id, upsert],
  );
  return { save, busy, errors, setErrors, formError, setFormError, savedAt };
}

/**
 * "applies at next boot" for each of `fields` that is pending on the VM. A disk or NIC item passes
 * `deviceId`: when the server reports per-device states (VmView.devices), the shared `disks`/`nics`
 * badge shows only on the device that is actually pending, with that device's reason.
 */
export function PendingBadges({ vm, fields, deviceId }: { vm: VmView; fields: string[]; deviceId?: string }) {
  const dev = deviceId ? vm.devices?.[deviceId] : undefined;
  const devicePending = !!dev && dev.state !== 'live';
  const pend = vm.pending
    .filter((p) => fields.includes(p.field))
    .filter(() => !deviceId || !vm.devices || devicePending)
    .map((p) => (devicePending && dev?.reason ? { ...p, reason: dev.reason } : p));
  if (!pend.length) return null;
  return (
    <div className="mb-4 space-y-1.5">
      {pend.map((p) => (
        <div key={p.field} className="flex flex-wrap items-center gap-2 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm dark:border-amber-700 dark:bg-amber-950/40">
          <span
            className="rounded-full bg-amber-200 px-2 py-0.5 text-xs font-semibold text-amber-900 dark:bg-amber-800 dark:text-amber-100"
            data-testid={`pending-${p.field}`}
            title={p.reason}
          >
            applies at next boot
          </span>
          <span className="text-amber-900 dark:text-amber-200">{p.reason}</span>
        </div>
      ))}
    </div>
  );
}

export function EditorShell({
  item,
  title,
  subtitle,
  vm,
  pendingFields = [],
  children,
  dirty,
  busy,
  onSave,
  onRevert,
  formError,
  savedAt,
  actions,
  canEdit = true,
  deviceId,
  saveLabel = 'Save',
}: {
  item: string;
  /** For a disk or NIC: its id, to show its own live/pending state. */
  deviceId?: string;
  title: ReactNode;
  subtitle?: ReactNode;
  vm: VmView;
  pendingFields?: string[];
  children: ReactNode;
  dirty?: boolean;
  busy?: boolean;
  onSave?: () => void;
  onRevert?: () => void;
  formError?: string | null;
  savedAt?: number | null;
  /** Extra buttons on the left of the bar (Remove, Eject). */
  actions?: ReactNode;
  canEdit?: boolean;
  /** The submit button's text (e.g. "Insert" for CD-ROM media on a running VM). */
  saveLabel?: string;
}) {
  const showSaved = savedAt !== null && savedAt !== undefined && !dirty;
  return (
    <section className="card p-4 sm:p-5" data-testid={`editor-${item}`} aria-labelledby={`editor-title-${item}`}>
      <div className="mb-4">
        <div className="flex flex-wrap items-center gap-2">
          <h2 id={`editor-title-${item}`} className="text-base font-semibold">
            {title}
          </h2>
          {deviceId && <DeviceStateBadge id={deviceId} state={vm.devices?.[deviceId]} showReason={vm.devices?.[deviceId]?.state === 'unplugging'} />}
        </div>
        {subtitle && <p className="muted mt-0.5 text-sm break-all">{subtitle}</p>}
      </div>
      <PendingBadges vm={vm} fields={pendingFields} deviceId={deviceId} />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (onSave && dirty && !busy) onSave();
        }}
        noValidate
      >
        <div className="space-y-4">{children}</div>
        {formError && (
          <div className="mt-4">
            <FormError message={formError} testId="editor-error" />
          </div>
        )}
        {(onSave || actions) && (
          <div className="mt-5 flex flex-wrap items-center gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
            {actions}
            <span className="ml-auto" />
            {showSaved && (
              <span className="text-sm text-emerald-700 dark:text-emerald-400" role="status" data-testid="editor-saved">
                Saved{(deviceId && vm.devices ? vm.devices[deviceId] && vm.devices[deviceId].state !== 'live' : vm.pending.some((p) => pendingFields.includes(p.field))) ? ' — applies at next boot' : ''}
              </span>
            )}
            {onSave && (
              <>
                <Button onClick={onRevert} disabled={!dirty || busy} data-testid="editor-revert">
                  Revert
                </Button>
                <Button type="submit" variant="primary" busy={busy} disabled={!dirty || !canEdit} data-testid="editor-save">
                  {saveLabel}
                </Button>
              </>
            )}
          </div>
        )}
      </form>
    </section>
  );
}
