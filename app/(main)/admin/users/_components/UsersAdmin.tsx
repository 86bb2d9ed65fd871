'use client';
/**
 * Users (admins only): create a user (a generated password is shown once), change a role, disable
 * or enable (ends their sessions and closes their consoles at once), reset a password, set quotas,
 * grant and revoke VMs; every user's API tokens with revoke.
 * Test ids: users-page, user-create-{username,role,password,submit,error}, user-row-<name>,
 * user-role-<name>, user-disable-<name>, user-reset-<name>, user-quota-<name>, user-grant-<name>,
 * grant-<name>-<vm name>, revoke-grant-<name>-<vm name>, secret-dialog, secret-value, token-row-<id>,
 * token-revoke-<id>.
 */
import { useCallback, useEffect, useState } from 'react';
import type { AdminUser } from '@/lib/schemas/admin';
import type { Token } from '@/lib/schemas/auth';
import { TokensSection } from './TokensSection';
import { api, ApiRequestError, errorMessage } from '@/components/api';
import { formatDate } from '@/components/format';
import { useSession } from '@/components/session';
import { Button } from '@/components/ui/Button';
import { ConfirmDialog } from '@/components/ui/ConfirmDialog';
import { Dialog } from '@/components/ui/Dialog';
import { Field, FormError } from '@/components/ui/Field';
import { PlusIcon, RefreshIcon, TrashIcon } from '@/components/ui/icons';
import { useToast } from '@/components/ui/Toast';
import { useVmEvents } from '@/components/vm/useVmEvents';

type Role = AdminUser['role'];
const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const ROLE_HELP: Record<Role, string> = {
  viewer: 'sees the VMs granted to them, read-only, view-only console',
  operator: 'runs and changes the VMs granted to them; creates VMs within a quota',
  admin: 'everything, including users',
};

export function UsersAdmin() {
  const { me } = useSession();
  const toast = useToast();
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [secret, setSecret] = useState<{ title: string; value: string } | null>(null);
  const [confirm, setConfirm] = useState<{ title: string; body: string; label: string; run: () => Promise<void> } | null>(null);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const [u, t] = await Promise.all([api<{ users: AdminUser[] }>('GET', '/api/admin/users'), api<{ tokens: Token[] }>('GET', '/api/admin/tokens')]);
      setUsers(u.users);
      setTokens(t.tokens);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiRequestError && e.status === 403 ? 'Only admins can manage users.' : errorMessage(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      toast.success(what);
    } catch (e) {
      toast.error(errorMessage(e));
    }
    void reload();
  };

  return (
    <div className="space-y-6" data-testid="users-page">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-semibold">Users</h1>
        <span className="muted text-sm">{users ? `${users.length} users` : ''}</span>
        <Button size="sm" className="ml-auto" icon={<RefreshIcon />} busy={loading} onClick={() => void reload()}>
          Refresh
        </Button>
      </div>
      {error && <FormError message={error} />}
      {users && <CreateUserForm onCreated={(u, pw) => { if (pw) setSecret({ title: `Password for ${u.username}`, value: pw }); toast.success(`Created ${u.username}.`); void reload(); }} />}

      {users && (
        <section className="card" aria-labelledby="users-heading">
          <h2 id="users-heading" className="border-b border-slate-200 px-4 py-3 text-base font-semibold dark:border-slate-800">
            Accounts
          </h2>
          <ul className="divide-y divide-slate-100 dark:divide-slate-800">
            {users.map((u) => (
              <UserRow
                key={u.id}
                u={u}
                self={me?.username === u.username}
                onRole={(role) => void act(`${u.username} is now ${role}.`, () => api('PATCH', `/api/admin/users/${u.id}`, { role }))}
                onDisable={() =>
                  u.disabled
                    ? void act(`${u.username} is enabled.`, () => api('PATCH', `/api/admin/users/${u.id}`, { disabled: false }))
                    : setConfirm({
                        title: `Disable ${u.username}?`,
                        body: 'They are signed out at once, their open consoles and live views close, and their API tokens stop working until you enable them again.',
                        label: 'Disable',
                        run: async () => {
                          await api('PATCH', `/api/admin/users/${u.id}`, { disabled: true });
                          toast.success(`${u.username} is disabled.`);
                          void reload();
                        },
                      })
                }
                onReset={() =>
                  setConfirm({
                    title: `Reset the password of ${u.username}?`,
                    body: 'A new password is generated and shown once. Their sessions end at once; their API tokens keep working (revoke them below if they leaked).',
                    label: 'Reset password',
                    run: async () => {
                      const r = await api<{ password: string | null }>('POST', `/api/admin/users/${u.id}/password`, {});
                      if (r.password) setSecret({ title: `New password for ${u.username}`, value: r.password });
                      void reload();
                    },
                  })
                }
                onQuota={(q) => void act(`Quotas of ${u.username} saved.`, () => api('PATCH', `/api/admin/users/${u.id}`, q))}
                onGrant={(vmId) => void act(`Granted.`, () => api('POST', `/api/admin/users/${u.id}/grants`, { vmId }))}
                onRevoke={(vmId, name) =>
                  setConfirm({
                    title: `Revoke ${u.username}'s access to ${name}?`,
                    body: 'The VM disappears from their list and their consoles on it close at once.',
                    label: 'Revoke',
                    run: async () => {
                      await api('DELETE', `/api/admin/users/${u.id}/grants/${vmId}`);
                      void reload();
                    },
                  })
                }
              />
            ))}
          </ul>
        </section>
      )}

      {tokens && (
        <TokensSection
          tokens={tokens}
          onCreated={(t) => {
            setSecret({ title: `API token "${t.name}"`, value: t.token });
            void reload();
          }}
          onRevoke={(t) =>
            setConfirm({
              title: `Revoke the token "${t.name}" of ${t.username}?`,
              body: 'It stops working at once, and websockets opened with it close.',
              label: 'Revoke token',
              run: async () => {
                await api('DELETE', `/api/admin/tokens/${t.id}`);
                void reload();
              },
            })
          }
        />
      )}

      <ConfirmDialog open={confirm !== null} onClose={() => setConfirm(null)} title={confirm?.title ?? ''} confirmLabel={confirm?.label ?? 'OK'} onConfirm={async () => { if (confirm) await confirm.run(); }}>
        <p>{confirm?.body}</p>
      </ConfirmDialog>

      <Dialog
        open={secret !== null}
        onClose={() => setSecret(null)}
        title={secret?.title ?? ''}
        description="Shown only this once: only a hash is stored. Copy it now."
        testId="secret-dialog"
        footer={<Button variant="primary" onClick={() => setSecret(null)}>Done</Button>}
      >
        <div className="flex items-center gap-2">
          <code className="block flex-1 rounded bg-slate-100 px-2 py-1.5 font-mono text-sm break-all select-all dark:bg-slate-800" data-testid="secret-value">
            {secret?.value}
          </code>
          <Button size="sm" onClick={() => secret && void navigator.clipboard?.writeText(secret.value).then(() => toast.info('Copied.'))}>
            Copy
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

function UserRow({
  u,
  self,
  onRole,
  onDisable,
  onReset,
  onQuota,
  onGrant,
  onRevoke,
}: {
  u: AdminUser;
  self: boolean;
  onRole: (r: Role) => void;
  onDisable: () => void;
  onReset: () => void;
  onQuota: (q: { maxVms: number | null; maxRunning: number | null }) => void;
  onGrant: (vmId: string) => void;
  onRevoke: (vmId: string, name: string) => void;
}) {
  const { vms } = useVmEvents();
  const [grantVm, setGrantVm] = useState('');
  const [editQuota, setEditQuota] = useState(false);
  const granted = new Set(u.grants.map((g) => g.vmId));
  const candidates = [...vms.values()].filter((v) => !granted.has(v.id)).sort((a, b) => a.name.localeCompare(b.name));
  const vmName = (id: string, fallback: string | null) => vms.get(id)?.name ?? fallback ?? id.slice(0, 8);

  return (
    <li className="space-y-3 px-4 py-3" data-testid={`user-row-${u.username}`}>
      <div className="flex flex-wrap items-center gap-x-4 gap-y-2">
        <div className="min-w-[10rem]">
          <span className="font-medium">{u.username}</span>
          {self && <span className="muted ml-1 text-xs">(you)</span>}
          {u.disabled && <span className="ml-2 rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800 dark:bg-red-900/50 dark:text-red-200">disabled</span>}
          <span className="muted block text-xs">
            since {formatDate(u.createdAt)} · {u.sessions} session{u.sessions === 1 ? '' : 's'} · {u.tokens} token{u.tokens === 1 ? '' : 's'}
          </span>
        </div>
        <label className="flex items-center gap-2 text-sm">
          <span className="muted">Role</span>
          <select className="input w-auto" value={u.role} disabled={self} title={ROLE_HELP[u.role]} onChange={(e) => onRole(e.target.value as Role)} data-testid={`user-role-${u.username}`}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        {u.role !== 'admin' && (
          <span className="text-sm" data-testid={`user-usage-${u.username}`}>
            <span className="muted">VMs</span> {u.usage.vms}/{u.usage.maxVms} <span className="muted">· running</span> {u.usage.running}/{u.usage.maxRunning}
          </span>
        )}
        <div className="ml-auto flex flex-wrap gap-2">
          {u.role !== 'admin' && (
            <Button size="sm" onClick={() => setEditQuota(true)} data-testid={`user-quota-${u.username}`}>
              Quotas
            </Button>
          )}
          <Button size="sm" onClick={onReset} data-testid={`user-reset-${u.username}`}>
            Reset password
          </Button>
          <Button size="sm" variant={u.disabled ? 'default' : 'danger'} disabled={self} onClick={onDisable} data-testid={`user-disable-${u.username}`}>
            {u.disabled ? 'Enable' : 'Disable'}
          </Button>
        </div>
      </div>

      {u.role !== 'admin' && (
        <div className="flex flex-wrap items-center gap-2 text-sm">
          <span className="muted">VMs:</span>
          {u.grants.length === 0 && <span className="muted">none</span>}
          {u.grants.map((g) => {
            const name = vmName(g.vmId, g.vmName);
            return (
              <span key={g.vmId} className="inline-flex items-center gap-1 rounded-full border border-slate-300 py-0.5 pr-1 pl-2.5 dark:border-slate-600" data-testid={`grant-${u.username}-${name}`}>
                {name}
                {g.owner && <span className="muted text-xs">(created)</span>}
                <button type="button" className="btn btn-ghost h-6 w-6 p-0" aria-label={`Revoke ${u.username}'s access to ${name}`} onClick={() => onRevoke(g.vmId, name)} data-testid={`revoke-grant-${u.username}-${name}`}>
                  <TrashIcon className="h-3.5 w-3.5" />
                </button>
              </span>
            );
          })}
          <form
            className="flex items-center gap-1"
            onSubmit={(e) => {
              e.preventDefault();
              if (grantVm) onGrant(grantVm);
              setGrantVm('');
            }}
          >
            <label className="sr-only" htmlFor={`grant-${u.id}`}>
              Grant a VM to {u.username}
            </label>
            <select id={`grant-${u.id}`} className="input w-auto py-1" value={grantVm} onChange={(e) => setGrantVm(e.target.value)} data-testid={`user-grant-${u.username}`}>
              <option value="">Grant a VM…</option>
              {candidates.map((v) => (
                <option key={v.id} value={v.id}>
                  {v.name}
                </option>
              ))}
            </select>
            <Button size="sm" type="submit" icon={<PlusIcon />} disabled={!grantVm} aria-label={`Grant the VM to ${u.username}`}>
              Grant
            </Button>
          </form>
        </div>
      )}
      <QuotaDialog open={editQuota} u={u} onClose={() => setEditQuota(false)} onSave={(q) => { setEditQuota(false); onQuota(q); }} />
    </li>
  );
}

function QuotaDialog({ open, u, onClose, onSave }: { open: boolean; u: AdminUser; onClose: () => void; onSave: (q: { maxVms: number | null; maxRunning: number | null }) => void }) {
  const [maxVms, setMaxVms] = useState(u.quota.maxVms?.toString() ?? '');
  const [maxRunning, setMaxRunning] = useState(u.quota.maxRunning?.toString() ?? '');
  const [err, setErr] = useState<string | null>(null);
  const parse = (s: string): number | null | undefined => (s.trim() === '' ? null : /^\d{1,5}$/.test(s.trim()) ? Number(s) : undefined);
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={`Quotas of ${u.username}`}
      description="Leave a field empty for the server default."
      size="sm"
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            onClick={() => {
              const a = parse(maxVms);
              const b = parse(maxRunning);
              if (a === undefined || b === undefined) return setErr('Whole numbers from 0 to 10000');
              onSave({ maxVms: a, maxRunning: b });
            }}
          >
            Save
          </Button>
        </>
      }
    >
      <div className="space-y-3">
        <Field label="VMs they may create and own" hint={`Default ${u.usage.maxVms}; they own ${u.usage.vms}.`}>
          <input className="input" inputMode="numeric" value={maxVms} onChange={(e) => setMaxVms(e.target.value)} />
        </Field>
        <Field label="Of their VMs, running at once" hint={`Default ${u.usage.maxRunning}; ${u.usage.running} running.`}>
          <input className="input" inputMode="numeric" value={maxRunning} onChange={(e) => setMaxRunning(e.target.value)} />
        </Field>
        <FormError message={err} />
      </div>
    </Dialog>
  );
}

function CreateUserForm({ onCreated }: { onCreated: (u: AdminUser, password: string | null) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ username?: string; password?: string; form?: string }>({});

  const submit = async () => {
    setErrors({});
    setBusy(true);
    try {
      const u = await api<AdminUser & { password: string | null }>('POST', '/api/admin/users', { username: username.trim(), role, ...(password ? { password } : {}) });
      setUsername('');
      setPassword('');
      onCreated(u, u.password);
    } catch (e) {
      const out: typeof errors = {};
      if (e instanceof ApiRequestError) for (const i of e.issues) if (i.path[0] === 'username' || i.path[0] === 'password') out[i.path[0]] ??= i.message;
      if (!out.username && !out.password) out.form = errorMessage(e);
      setErrors(out);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card p-4" aria-labelledby="create-user-heading">
      <h2 id="create-user-heading" className="mb-3 text-base font-semibold">
        New user
      </h2>
      <form
        className="grid gap-3 sm:grid-cols-[1fr_auto_1fr_auto] sm:items-start"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void submit();
        }}
      >
        <Field label="User name" error={errors.username} hint="Lowercase letters, digits, . _ -">
          <input className="input" autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} data-testid="user-create-username" />
        </Field>
        <Field label="Role" hint={ROLE_HELP[role]}>
          <select className="input" value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="user-create-role">
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Password" error={errors.password} hint="Leave empty to generate one (shown once)">
          <input className="input" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="user-create-password" />
        </Field>
        <Button type="submit" variant="primary" className="sm:mt-6" busy={busy} icon={<PlusIcon />} data-testid="user-create-submit">
          Create
        </Button>
        <div className="sm:col-span-4">
          <FormError message={errors.form} testId="user-create-error" />
        </div>
      </form>
    </section>
  );
}
