'use client';
/**
 * Storage: the default pool's volumes (images and ISOs) with format, size, virtual size and the VMs
 * that use them; create a qcow2 volume (name + size) and delete one (after a confirmation; not
 * possible while a VM uses it, which the disabled button's tooltip says).
 * Test ids: volume-list, volume-row-<name>, volume-delete-<name>, volume-create-name,
 * volume-create-size, volume-create-unit, volume-create-submit, volume-create-error,
 * error-volume-name, error-volume-size, volume-refresh.
 */
import Link from 'next/link';
import { useState } from 'react';
import type { Volume } from '@/lib/schemas';
import { CreateVolumeSchema } from '@/lib/schemas';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatBytes, formatDate } from '@/components/format';
import { useSession } from '@/components/session';
import { Button } from '@/components/ui/Button';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { Field, FormError } from '@/components/ui/Field';
import { RefreshIcon, TrashIcon } from '@/components/ui/icons';
import { useToast } from '@/components/ui/Toast';
import { useVmEvents } from '@/components/vm/useVmEvents';
import { useVolumes } from '@/components/vm/useVolumes';
import { vmHref } from '@/components/vm/links';

const FORMAT_STYLE: Record<Volume['format'], string> = {
  qcow2: 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-200',
  raw: 'bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-200',
  iso: 'bg-violet-100 text-violet-800 dark:bg-violet-900/50 dark:text-violet-200',
};

export function StorageView() {
  const { volumes, error, loading, reload } = useVolumes();
  const { vms } = useVmEvents();
  const { canEdit } = useSession();
  const toast = useToast();
  const [toDelete, setToDelete] = useState<Volume | null>(null);

  const vmName = (id: string) => vms.get(id)?.name ?? id.slice(0, 8);
  const total = (volumes ?? []).reduce((s, v) => s + v.allocatedBytes, 0);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-semibold">Storage</h1>
        <span className="muted text-sm">default pool{volumes ? ` · ${volumes.length} volumes, ${formatBytes(total)} on disk` : ''}</span>
        <Button size="sm" className="ml-auto" icon={<RefreshIcon />} busy={loading} onClick={() => void reload()} data-testid="volume-refresh">
          Refresh
        </Button>
      </div>

      {canEdit && <CreateVolumeForm onCreated={(v) => { toast.success(`Created ${v.name}.`); void reload(); }} />}

      <section className="card" aria-labelledby="volumes-heading">
        <h2 id="volumes-heading" className="border-b border-slate-200 px-4 py-3 text-base font-semibold dark:border-slate-800">
          Volumes
        </h2>
        {error && <p className="p-4 text-sm text-red-700 dark:text-red-400">Could not list the volumes: {error}</p>}
        {!volumes && !error && <p className="muted p-4 text-sm">Loading…</p>}
        {volumes && volumes.length === 0 && <p className="muted p-6 text-center text-sm">The pool is empty. Create a disk image above, or copy ISO images into the pool directory on the host.</p>}
        {volumes && volumes.length > 0 && (
          <div className="relative overflow-x-auto">
            <table className="w-full min-w-[40rem] text-sm" data-testid="volume-list">
              <thead className="text-left text-xs tracking-wide text-slate-500 uppercase dark:text-slate-400">
                <tr className="border-b border-slate-200 dark:border-slate-800">
                  <th scope="col" className="px-4 py-2 font-medium">Name</th>
                  <th scope="col" className="px-4 py-2 font-medium">Format</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium">Size</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium">Virtual size</th>
                  <th scope="col" className="px-4 py-2 font-medium">Used by</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {volumes.map((v) => {
                  const used = v.usedBy.length > 0;
                  const why = used ? `In use by ${v.usedBy.map(vmName).join(', ')}: detach it first` : undefined;
                  return (
                    <tr key={v.ref} className="border-b border-slate-100 last:border-b-0 dark:border-slate-800" data-testid={`volume-row-${v.name}`}>
                      <td className="px-4 py-2.5">
                        <span className="font-mono text-xs break-all">{v.name}</span>
                        <span className="muted block text-xs">modified {formatDate(v.modifiedAt)}</span>
                      </td>
                      <td className="px-4 py-2.5">
                        <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${FORMAT_STYLE[v.format]}`}>{v.format}</span>
                      </td>
                      <td className="px-4 py-2.5 text-right tabular-nums" title={`${v.allocatedBytes} bytes allocated on the host`}>
                        {formatBytes(v.allocatedBytes)}
                      </td>
                      <td className="px-4 py-2.5 text-right tabular-nums">{formatBytes(v.virtualSizeBytes)}</td>
                      <td className="px-4 py-2.5">
                        {used ? (
                          v.usedBy.map((id, i) => (
                            <span key={id}>
                              {i > 0 && ', '}
                              <Link href={vmHref(id)} className="link">
                                {vmName(id)}
                              </Link>
                            </span>
                          ))
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td className="px-4 py-2.5 text-right">
                        {canEdit && (
                          // A disabled button gets no hover events in some browsers: the wrapper carries the
                          // tooltip. Screen readers get the same from the "Used by" cell of the row.
                          <span title={why} className="inline-block">
                            <Button size="sm" icon={<TrashIcon />} disabled={used} onClick={() => setToDelete(v)} aria-label={`Delete ${v.name}`} data-testid={`volume-delete-${v.name}`}>
                              Delete
                            </Button>
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <ConfirmDialog
        open={toDelete !== null}
        onClose={() => setToDelete(null)}
        title={`Delete ${toDelete?.name ?? ''}?`}
        confirmLabel="Delete volume"
        onConfirm={async () => {
          if (!toDelete) return;
          await api('DELETE', `/api/pools/default/volumes/${encodeURIComponent(toDelete.name)}`);
          toast.success(`Deleted ${toDelete.name}.`);
          void reload();
        }}
      >
        <p>
          The file <span className="font-mono">{toDelete?.ref}</span> ({toDelete ? formatBytes(toDelete.allocatedBytes) : ''}) is removed from the host for good.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function CreateVolumeForm({ onCreated }: { onCreated: (v: Volume) => void }) {
  const [name, setName] = useState('');
  const [size, setSize] = useState('10');
  const [unit, setUnit] = useState<'GiB' | 'MiB'>('GiB');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ name?: string; size?: string }>({});
  const [formError, setFormError] = useState<string | null>(null);

  const submit = async () => {
    setErrors({});
    setFormError(null);
    const file = name.trim().endsWith('.qcow2') ? name.trim() : `${name.trim()}.qcow2`;
    const n = Number(size);
    const sizeMiB = Math.round(unit === 'GiB' ? n * 1024 : n);
    if (!name.trim()) return setErrors({ name: 'Give the volume a name' });
    if (!size.trim() || !Number.isFinite(n) || n <= 0) return setErrors({ size: 'Enter a size greater than 0' });
    const parsed = CreateVolumeSchema.safeParse({ name: file, sizeMiB });
    if (!parsed.success) {
      const e: { name?: string; size?: string } = {};
      for (const i of parsed.error.issues) {
        if (i.path[0] === 'name') e.name ??= i.message;
        else e.size ??= i.message;
      }
      return setErrors(e);
    }
    setBusy(true);
    try {
      const v = await api<Volume>('POST', '/api/pools/default/volumes', parsed.data);
      setName('');
      onCreated(v);
    } catch (err) {
      if (err instanceof ApiRequestError && err.code === 'VOLUME_EXISTS') setErrors({ name: err.message });
      else if (err instanceof ApiRequestError && err.issues.length) {
        const e: { name?: string; size?: string } = {};
        for (const i of err.issues) {
          if (i.path[0] === 'name') e.name ??= i.message;
          else if (i.path[0] === 'sizeMiB') e.size ??= i.message;
        }
        if (e.name || e.size) setErrors(e);
        else setFormError(err.message);
      } else setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card p-4" aria-labelledby="create-volume-heading">
      <h2 id="create-volume-heading" className="mb-3 text-base font-semibold">
        New disk image
      </h2>
      <form
        className="flex flex-col gap-3 sm:flex-row sm:items-start"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void submit();
        }}
      >
        <Field label="Name" className="sm:w-72" error={errors.name} errorTestId="error-volume-name" hint="“.qcow2” is added if missing">
          <input className="input font-mono" value={name} onChange={(e) => setName(e.target.value)} placeholder="data-disk.qcow2" spellCheck={false} autoComplete="off" disabled={busy} data-testid="volume-create-name" />
        </Field>
        <div className="flex items-start gap-2">
          <Field label="Size" className="w-28" error={errors.size} errorTestId="error-volume-size">
            <input className="input" inputMode="decimal" value={size} onChange={(e) => setSize(e.target.value)} disabled={busy} data-testid="volume-create-size" />
          </Field>
          <div className="w-24">
            <label htmlFor="volume-create-unit" className="label">
              Unit
            </label>
            <select id="volume-create-unit" className="input" value={unit} onChange={(e) => setUnit(e.target.value as 'GiB' | 'MiB')} disabled={busy} data-testid="volume-create-unit">
              <option>GiB</option>
              <option>MiB</option>
            </select>
          </div>
        </div>
        <div className="sm:pt-6">
          <Button type="submit" variant="primary" busy={busy} data-testid="volume-create-submit">
            Create
          </Button>
        </div>
      </form>
      <div className="mt-2">
        <FormError message={formError} testId="volume-create-error" />
      </div>
    </section>
  );
}
