'use client';
/**
 * Every user's API tokens (name, owner, role, VM scope, last use, expiry) with revoke, and a form
 * to create one for yourself; the secret is shown once by the caller.
 * Test ids: token-create-name, token-create-submit, token-row-<id>, token-revoke-<id>.
 */
import { useState } from 'react';
import type { Token } from '@/lib/schemas/auth';
import { api, errorMessage } from '@/components/api';
import { formatDate } from '@/components/format';
import { Button } from '@/components/ui/Button';
import { Field, FormError } from '@/components/ui/Field';
import { PlusIcon } from '@/components/ui/icons';
import { useVmEvents } from '@/components/vm/useVmEvents';

type Role = Token['role'];
const ROLES: Role[] = ['viewer', 'operator', 'admin'];

export function TokensSection({ tokens, onCreated, onRevoke }: { tokens: Token[]; onCreated: (t: Token & { token: string }) => void; onRevoke: (t: Token) => void }) {
  const { vms } = useVmEvents();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [vmId, setVmId] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const create = async () => {
    setErr(null);
    setBusy(true);
    try {
      const t = await api<Token & { token: string }>('POST', '/api/auth/tokens', { name: name.trim(), role, vmId: vmId || null });
      setName('');
      onCreated(t);
    } catch (e) {
      setErr(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="tokens-heading">
      <h2 id="tokens-heading" className="border-b border-slate-200 px-4 py-3 text-base font-semibold dark:border-slate-800">
        API tokens
      </h2>
      <form
        className="flex flex-wrap items-end gap-2 border-b border-slate-200 px-4 py-3 dark:border-slate-800"
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy && name.trim()) void create();
        }}
      >
        <Field label="New token for you" className="min-w-[12rem] flex-1">
          <input className="input" placeholder="e.g. backup script" value={name} onChange={(e) => setName(e.target.value)} data-testid="token-create-name" />
        </Field>
        <Field label="Role">
          <select className="input" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Limited to">
          <select className="input" value={vmId} onChange={(e) => setVmId(e.target.value)}>
            <option value="">all VMs</option>
            {[...vms.values()].map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </Field>
        <Button type="submit" busy={busy} disabled={!name.trim()} icon={<PlusIcon />} data-testid="token-create-submit">
          Create token
        </Button>
        <div className="w-full">
          <FormError message={err} />
        </div>
      </form>
      {tokens.length === 0 ? (
        <p className="muted p-4 text-sm">No API tokens.</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full min-w-[44rem] text-sm">
            <thead className="text-left text-xs tracking-wide text-slate-500 uppercase dark:text-slate-400">
              <tr className="border-b border-slate-200 dark:border-slate-800">
                <th scope="col" className="px-4 py-2 font-medium">Name</th>
                <th scope="col" className="px-4 py-2 font-medium">Owner</th>
                <th scope="col" className="px-4 py-2 font-medium">Role</th>
                <th scope="col" className="px-4 py-2 font-medium">VM</th>
                <th scope="col" className="px-4 py-2 font-medium">Last used</th>
                <th scope="col" className="px-4 py-2 font-medium">Expires</th>
                <th scope="col" className="px-4 py-2 text-right font-medium"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} className={`border-b border-slate-100 last:border-b-0 dark:border-slate-800 ${t.revoked ? 'opacity-60' : ''}`} data-testid={`token-row-${t.id}`}>
                  <td className="px-4 py-2">{t.name}</td>
                  <td className="px-4 py-2">{t.username}</td>
                  <td className="px-4 py-2">{t.role}</td>
                  <td className="px-4 py-2">{t.vmId ? (vms.get(t.vmId)?.name ?? t.vmId.slice(0, 8)) : <span className="muted">all</span>}</td>
                  <td className="px-4 py-2">{t.lastUsedAt ? `${formatDate(t.lastUsedAt)}${t.lastUsedIp ? ` from ${t.lastUsedIp}` : ''}` : <span className="muted">never</span>}</td>
                  <td className="px-4 py-2">{t.expiresAt ? formatDate(t.expiresAt) : <span className="muted">never</span>}</td>
                  <td className="px-4 py-2 text-right">
                    {t.revoked ? (
                      <span className="muted">revoked</span>
                    ) : (
                      <Button size="sm" variant="danger" onClick={() => onRevoke(t)} data-testid={`token-revoke-${t.id}`}>
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
