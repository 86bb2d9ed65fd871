'use client';
/**
 * The audit log (admins only): who did what, from where, on which VM, with what result, newest
 * first; filter by user, VM, action text, result and time; page back with "Older entries".
 * Parameters are shown as recorded (secrets were redacted before they were stored).
 * Test ids: audit-page, audit-filter-{user,vm,action,result,since,until}, audit-apply, audit-row,
 * audit-older, audit-empty.
 */
import { useCallback, useEffect, useState } from 'react';
import type { AuditEntry } from '@/lib/schemas/admin';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatDate } from '@/components/format';
import { Button } from '@/components/ui/Button';
import { FormError } from '@/components/ui/Field';
import { RefreshIcon } from '@/components/ui/icons';
import { useVmEvents } from '@/components/vm/useVmEvents';

interface Filters {
  username: string;
  vmId: string;
  action: string;
  result: 'any' | 'ok' | 'error';
  since: string;
  until: string;
}

const EMPTY: Filters = { username: '', vmId: '', action: '', result: 'any', since: '', until: '' };

function queryString(f: Filters, before: number | null): string {
  const q = new URLSearchParams({ limit: '100', result: f.result });
  if (f.username.trim()) q.set('username', f.username.trim());
  if (f.vmId) q.set('vmId', f.vmId);
  if (f.action.trim()) q.set('action', f.action.trim());
  // <input type=datetime-local> is local time without a zone: make it an ISO instant.
  if (f.since) q.set('since', new Date(f.since).toISOString());
  if (f.until) q.set('until', new Date(f.until).toISOString());
  if (before) q.set('before', String(before));
  return q.toString();
}

export function AuditLogView() {
  const { vms } = useVmEvents();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async (f: Filters, before: number | null) => {
    setLoading(true);
    try {
      const page = await api<{ entries: AuditEntry[]; nextBefore: number | null }>('GET', `/api/admin/audit?${queryString(f, before)}`);
      setEntries((prev) => (before && prev ? [...prev, ...page.entries] : page.entries));
      setNextBefore(page.nextBefore);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiRequestError && e.status === 403 ? 'Only admins can read the audit log.' : errorMessage(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(filters, null);
  }, [filters, load]);

  const set = <K extends keyof Filters>(k: K) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value as Filters[K] }));
  const vmLabel = (id: string | null) => (id ? (vms.get(id)?.name ?? id.slice(0, 8)) : '');

  return (
    <div className="space-y-4" data-testid="audit-page">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-semibold">Audit log</h1>
        <span className="muted text-sm">every change and console opened, newest first</span>
        <Button size="sm" className="ml-auto" icon={<RefreshIcon />} busy={loading} onClick={() => void load(filters, null)}>
          Refresh
        </Button>
      </div>

      <form
        className="card grid gap-3 p-4 sm:grid-cols-3 lg:grid-cols-6"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        <label className="text-sm">
          <span className="label">User</span>
          <input className="input" value={draft.username} onChange={set('username')} placeholder="any" data-testid="audit-filter-user" />
        </label>
        <label className="text-sm">
          <span className="label">VM</span>
          <select className="input" value={draft.vmId} onChange={set('vmId')} data-testid="audit-filter-vm">
            <option value="">any</option>
            {[...vms.values()]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((v) => (
                <option key={v.id} value={v.id}>
                  {v.name}
                </option>
              ))}
          </select>
        </label>
        <label className="text-sm">
          <span className="label">Action contains</span>
          <input className="input" value={draft.action} onChange={set('action')} placeholder="e.g. start, console, /api/admin" data-testid="audit-filter-action" />
        </label>
        <label className="text-sm">
          <span className="label">Result</span>
          <select className="input" value={draft.result} onChange={set('result')} data-testid="audit-filter-result">
            <option value="any">any</option>
            <option value="ok">succeeded</option>
            <option value="error">failed or refused</option>
          </select>
        </label>
        <label className="text-sm">
          <span className="label">From</span>
          <input className="input" type="datetime-local" value={draft.since} onChange={set('since')} data-testid="audit-filter-since" />
        </label>
        <label className="text-sm">
          <span className="label">Until</span>
          <input className="input" type="datetime-local" value={draft.until} onChange={set('until')} data-testid="audit-filter-until" />
        </label>
        <div className="flex gap-2 sm:col-span-3 lg:col-span-6">
          <Button type="submit" variant="primary" data-testid="audit-apply">
            Apply filters
          </Button>
          <Button
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
            }}
          >
            Clear
          </Button>
        </div>
      </form>

      <FormError message={error} />
      {entries && entries.length === 0 && (
        <p className="muted card p-6 text-center text-sm" data-testid="audit-empty">
          Nothing matches these filters.
        </p>
      )}
      {entries && entries.length > 0 && (
        <section className="card overflow-x-auto" aria-label="Audit entries">
          <table className="w-full min-w-[56rem] text-sm">
            <thead className="text-left text-xs tracking-wide text-slate-500 uppercase dark:text-slate-400">
              <tr className="border-b border-slate-200 dark:border-slate-800">
                <th scope="col" className="px-3 py-2 font-medium">Time</th>
                <th scope="col" className="px-3 py-2 font-medium">User</th>
                <th scope="col" className="px-3 py-2 font-medium">From</th>
                <th scope="col" className="px-3 py-2 font-medium">Action</th>
                <th scope="col" className="px-3 py-2 font-medium">VM</th>
                <th scope="col" className="px-3 py-2 font-medium">Result</th>
                <th scope="col" className="px-3 py-2 font-medium">Parameters</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} className="border-b border-slate-100 align-top last:border-b-0 dark:border-slate-800" data-testid="audit-row">
                  <td className="px-3 py-2 whitespace-nowrap tabular-nums" title={e.at}>
                    {formatDate(e.at)}
                  </td>
                  <td className="px-3 py-2">
                    {e.username ?? <span className="muted">anonymous</span>}
                    {e.tokenId !== null && <span className="muted block text-xs">token #{e.tokenId}</span>}
                  </td>
                  <td className="px-3 py-2 font-mono text-xs">{e.ip ?? ''}</td>
                  <td className="px-3 py-2 font-mono text-xs break-all">{e.action}</td>
                  <td className="px-3 py-2">{vmLabel(e.vmId)}</td>
                  <td className="px-3 py-2 whitespace-nowrap">
                    {e.ok ? (
                      <span className="rounded bg-emerald-100 px-1.5 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200">ok {e.status}</span>
                    ) : (
                      <span className="rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800 dark:bg-red-900/50 dark:text-red-200">
                        {e.code} {e.status}
                      </span>
                    )}
                  </td>
                  <td className="max-w-[24rem] px-3 py-2">
                    {e.params ? (
                      <details>
                        <summary className="muted cursor-pointer text-xs">show</summary>
                        <pre className="mt-1 max-h-60 overflow-auto rounded bg-slate-100 p-2 text-xs whitespace-pre-wrap break-all dark:bg-slate-800">{JSON.stringify(e.params, null, 2)}</pre>
                      </details>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {nextBefore && (
            <div className="border-t border-slate-200 p-3 text-center dark:border-slate-800">
              <Button size="sm" busy={loading} onClick={() => void load(filters, nextBefore)} data-testid="audit-older">
                Older entries
              </Button>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
