/**
 * Administration (admin role only): users (create, role, disable, quotas, reset password), per-VM
 * grants, every user's API tokens, and the audit log.
 *
 * Whatever takes rights away takes effect at once, on open connections too: disabling a user,
 * changing their role or resetting their password ends their sessions and closes their websockets
 * (events and consoles); revoking a token closes what that token opened; revoking a grant closes
 * the user's consoles on that VM and removes the VM from their live list.
 */
import { z } from 'zod';
import { ApiError } from '../../lib/errors';
import {
  AuditPageSchema,
  AuditQuerySchema,
  CreateUserSchema,
  GrantRequestSchema,
  PatchUserSchema,
  ResetPasswordSchema,
  UserSchema,
  type AdminUser,
} from '../../lib/schemas/admin';
import { TokenSchema } from '../../lib/schemas/auth';
import type { Access } from '../auth/access';
import type { Auth, TokenRecord, UserRecord } from '../auth/auth';
import { randomSecret } from '../auth/passwords';
import type { AuditLog } from '../audit/audit';
import { route, type RouteDef } from '../http/router';
import type { VmManager } from '../vm/manager';
import type { ConsoleRegistry, Kicker } from '../ws/registry';

export interface AdminDeps {
  auth: Auth;
  access: Access;
  audit: AuditLog;
  vms: Pick<VmManager, 'store'>;
  kick: Kicker;
  consoles: ConsoleRegistry;
  /** The user's live VM list changed (grants). */
  refreshEvents(userId: number): void;
}

const NoQuery = z.strictObject({});
const UserParams = z.strictObject({ uid: z.coerce.number('Not a user id').int().min(1).max(2 ** 31) });
const GrantParams = z.strictObject({ uid: z.coerce.number('Not a user id').int().min(1).max(2 ** 31), vmId: z.uuid('Not a VM id') });
const TokenParams = z.strictObject({ tid: z.coerce.number('Not a token id').int().min(1).max(2 ** 31) });

export function toToken(t: TokenRecord): z.infer<typeof TokenSchema> {
  return { id: t.id, name: t.name, username: t.username, role: t.role, vmId: t.vmId, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt, lastUsedIp: t.lastUsedIp, expiresAt: t.expiresAt, revoked: t.revoked };
}

export function adminRoutes(d: AdminDeps): RouteDef[] {
  const view = (u: UserRecord): AdminUser => {
    const quota = d.access.quotaOf(u);
    const use = d.access.usage(u.id);
    return {
      id: u.id,
      username: u.username,
      role: u.role,
      disabled: u.disabled,
      createdAt: u.createdAt,
      grants: [...d.access.grantsOf(u.id).values()].map((g) => ({ vmId: g.vmId, vmName: d.vms.store.get(g.vmId)?.name ?? null, owner: g.owner, createdAt: g.createdAt })),
      quota: { maxVms: u.maxVms, maxRunning: u.maxRunning },
      usage: { vms: use.vms, running: use.running, maxVms: quota.maxVms, maxRunning: quota.maxRunning },
      sessions: d.auth.sessionCount(u.id),
      tokens: d.auth.tokenCount(u.id),
    };
  };
  const Created = UserSchema.extend({ password: z.string().nullable() });

  return [
    route({
      method: 'GET', path: '/api/admin/users', tag: 'admin', role: 'admin', summary: 'All users with their grants, quotas and usage',
      query: NoQuery, response: z.object({ users: z.array(UserSchema) }),
      handler: () => ({ users: d.auth.listUsers().map(view) }),
    }),
    route({
      method: 'POST', path: '/api/admin/users', tag: 'admin', role: 'admin', status: 201,
      summary: 'Create a user; without a password one is generated and returned once',
      query: NoQuery, body: CreateUserSchema, response: Created, maxBodyBytes: 8 * 1024,
      handler: async ({ body, audit }) => {
        const password = body.password ?? randomSecret(12);
        const u = await d.auth.createUser(body.username, password, body.role, { maxVms: body.maxVms ?? null, maxRunning: body.maxRunning ?? null });
        audit.extra = { userId: u.id, username: u.username, role: u.role };
        return { ...view(u), password: body.password ? null : password };
      },
    }),
    route({
      method: 'PATCH', path: '/api/admin/users/{uid}', tag: 'admin', role: 'admin',
      summary: 'Change role, disable/enable, or set quotas; disabling ends sessions and closes websockets at once',
      params: UserParams, query: NoQuery, body: PatchUserSchema, response: UserSchema,
      handler: ({ params, body, user, audit }) => {
        const before = d.auth.requireUser(params.uid);
        audit.extra = { username: before.username };
        if (params.uid === user.id && (body.disabled || (body.role && body.role !== 'admin'))) {
          throw new ApiError('INVALID_STATE', 'You cannot disable yourself or take away your own admin role');
        }
        const after = d.auth.updateUser(params.uid, body);
        if (after.disabled && !before.disabled) d.kick((u) => u.id === after.id, 'account disabled');
        else if (after.role !== before.role) {
          // Open connections carry the old role: make them reconnect under the new one.
          d.kick((u) => u.id === after.id, 'role changed');
        }
        return view(after);
      },
    }),
    route({
      method: 'POST', path: '/api/admin/users/{uid}/password', tag: 'admin', role: 'admin',
      summary: 'Reset a password (generated when not given, returned once); ends the user\'s sessions',
      params: UserParams, query: NoQuery, body: ResetPasswordSchema, response: z.object({ password: z.string().nullable() }), maxBodyBytes: 8 * 1024,
      handler: async ({ params, body, audit }) => {
        const u = d.auth.requireUser(params.uid);
        audit.extra = { username: u.username };
        const password = body.password ?? randomSecret(12);
        await d.auth.resetPassword(u.id, password);
        // Sessions are gone; their websockets go too (tokens stay: revoke them separately).
        d.kick((x) => x.id === u.id && !x.tokenId, 'password reset');
        return { password: body.password ? null : password };
      },
    }),
    route({
      method: 'POST', path: '/api/admin/users/{uid}/grants', tag: 'admin', role: 'admin', status: 201,
      summary: 'Grant a user access to a VM', params: UserParams, query: NoQuery, body: GrantRequestSchema, response: UserSchema,
      handler: ({ params, body, user, audit }) => {
        const u = d.auth.requireUser(params.uid);
        if (!d.vms.store.get(body.vmId)) throw new ApiError('VM_NOT_FOUND', 'No such VM');
        audit.vmId = body.vmId;
        audit.extra = { username: u.username };
        d.access.grant(u.id, body.vmId, { by: user.id });
        d.refreshEvents(u.id);
        return view(u);
      },
    }),
    route({
      method: 'DELETE', path: '/api/admin/users/{uid}/grants/{vmId}', tag: 'admin', role: 'admin',
      summary: 'Revoke a user\'s access to a VM; their consoles on it close at once', params: GrantParams, query: NoQuery, response: UserSchema,
      handler: ({ params, audit }) => {
        const u = d.auth.requireUser(params.uid);
        audit.vmId = params.vmId;
        audit.extra = { username: u.username };
        if (!d.access.revoke(u.id, params.vmId)) throw new ApiError('NOT_FOUND', `${u.username} has no grant on that VM`);
        if (!d.access.canSeeVm({ id: u.id, username: u.username, role: u.role, accountRole: u.role }, params.vmId)) {
          d.consoles.closeWhere((e) => e.user.id === u.id && e.vmId === params.vmId, 'access to this VM was revoked');
        }
        d.refreshEvents(u.id);
        return view(u);
      },
    }),
    route({
      method: 'GET', path: '/api/admin/tokens', tag: 'admin', role: 'admin', summary: 'Every user\'s API tokens (never the secrets)',
      query: NoQuery, response: z.object({ tokens: z.array(TokenSchema) }),
      handler: () => ({ tokens: d.auth.listTokens(null).map(toToken) }),
    }),
    route({
      method: 'DELETE', path: '/api/admin/tokens/{tid}', tag: 'admin', role: 'admin',
      summary: 'Revoke any token; what it opened closes at once', params: TokenParams, query: NoQuery, response: TokenSchema,
      handler: ({ params, audit }) => {
        const t = d.auth.revokeToken(params.tid);
        audit.extra = { tokenOwner: t.username, tokenName: t.name };
        d.kick((u) => u.tokenId === t.id, 'API token revoked');
        return toToken(t);
      },
    }),
    route({
      method: 'GET', path: '/api/admin/audit', tag: 'admin', role: 'admin',
      summary: 'The audit log, newest first, filtered by user, VM, action, result and time',
      query: AuditQuerySchema, response: AuditPageSchema,
      handler: ({ query }) => d.audit.query(query),
    }),
  ];
}
