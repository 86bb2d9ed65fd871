/**
 * REST handlers for the host, storage pools and authentication (login, logout, own password, own
 * API tokens). Per-VM and per-volume access is enforced around these handlers by http/guard.ts.
 */
import { z } from 'zod';
import { ApiError } from '../../lib/errors';
import { ChangePasswordSchema, CreatedTokenSchema, CreateTokenSchema, LoginSchema, MeSchema, TokenSchema } from '../../lib/schemas/auth';
import { HostInfoSchema } from '../../lib/schemas/host';
import { CreateVolumeSchema, VolumeSchema } from '../../lib/schemas/pool';
import { volumeFile } from '../../lib/schemas/common';
import { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie, type Auth, type User } from '../auth/auth';
import type { Access } from '../auth/access';
import type { Kicker } from '../ws/registry';
import { toToken } from './admin';
import { route, type RouteDef } from '../http/router';
import type { HostService } from '../qemu/host';
import type { StoragePools } from '../storage/pool';
import { volumeUsers } from '../vm/configs';
import type { VmManager } from '../vm/manager';

const NoQuery = z.strictObject({});
const PoolParams = z.strictObject({ pool: z.literal('default', 'Only the "default" pool exists') });
const VolumeParams = z.strictObject({ pool: z.literal('default', 'Only the "default" pool exists'), name: volumeFile });

export function hostRoutes(host: HostService): RouteDef[] {
  return [
    route({
      method: 'GET', path: '/api/host', tag: 'host', summary: 'Host capabilities: QEMU version, accelerator and why, CPUs, memory, disk',
      query: NoQuery, response: HostInfoSchema, handler: () => host.info(),
    }),
  ];
}

export function poolRoutes(pools: StoragePools, m: VmManager, access?: Access): RouteDef[] {
  const users = (ref: string) => volumeUsers(m, ref);
  return [
    route({
      method: 'GET', path: '/api/pools/{pool}/volumes', tag: 'storage', summary: 'List the volumes (images, ISOs) in a pool',
      params: PoolParams, query: NoQuery, response: z.object({ volumes: z.array(VolumeSchema) }),
      handler: ({ params }) => ({ volumes: pools.list(params.pool, users) }),
    }),
    route({
      method: 'POST', path: '/api/pools/{pool}/volumes', tag: 'storage', summary: 'Create a qcow2 volume of a given size',
      params: PoolParams, query: NoQuery, body: CreateVolumeSchema, response: VolumeSchema, status: 201,
      handler: async ({ params, body }) => {
        const ref = await pools.createQcow2(params.pool, body.name, body.sizeMiB);
        return pools.get(ref, users);
      },
    }),
    route({
      method: 'DELETE', path: '/api/pools/{pool}/volumes/{name}', tag: 'storage', summary: 'Delete a volume no VM uses',
      params: VolumeParams, query: NoQuery, produces: 'none',
      handler: ({ params, user }) => {
        const ref = `${params.pool}/${params.name}`;
        const by = users(ref);
        // Name only the VMs this user may see.
        const names = by.map((id) => (!access || access.canSeeVm(user, id) ? (m.store.get(id)?.name ?? id) : 'a VM you cannot see'));
        if (by.length) throw new ApiError('VOLUME_IN_USE', `"${params.name}" is used by ${[...new Set(names)].join(', ')}`);
        pools.remove(ref);
      },
    }),
  ];
}

export interface AuthRouteDeps {
  auth: Auth;
  secure: boolean;
  /** May this user see this VM (token scope checks)? */
  canSeeVm(user: User, vmId: string): boolean;
  kick: Kicker;
}

/** Token management is for people: a token cannot mint or revoke tokens, or change a password. */
function sessionOnly(user: User, what: string): void {
  if (user.tokenId) throw new ApiError('FORBIDDEN', `Sign in with a password to ${what}; an API token cannot`);
}

export function authRoutes(d: AuthRouteDeps): RouteDef[] {
  const { auth, secure } = d;
  const TokenParams = z.strictObject({ tid: z.coerce.number('Not a token id').int().min(1).max(2 ** 31) });
  return [
    route({
      method: 'POST', path: '/api/auth/login', tag: 'auth', summary: 'Log in; sets an HttpOnly SameSite=Strict session cookie', auth: 'none',
      query: NoQuery, body: LoginSchema, response: MeSchema, maxBodyBytes: 8 * 1024,
      handler: async ({ body, res, ip, audit }) => {
        audit.actor = body.username;
        const { user, sessionId } = await auth.login(body.username, body.password, ip);
        res.setHeader('set-cookie', sessionCookie(sessionId, secure));
        return { username: user.username, role: user.role, vmScope: null };
      },
    }),
    route({
      method: 'POST', path: '/api/auth/logout', tag: 'auth', summary: 'End this session (and close its websockets)', role: 'viewer', query: NoQuery, produces: 'none',
      handler: ({ req, res }) => {
        const sid = readCookie(req, SESSION_COOKIE);
        if (sid) {
          const key = auth.logout(sid);
          d.kick((u) => u.sessionKey === key, 'signed out');
        }
        res.setHeader('set-cookie', clearedSessionCookie(secure));
      },
    }),
    route({
      method: 'GET', path: '/api/auth/me', tag: 'auth', summary: 'Who am I', query: NoQuery, response: MeSchema,
      handler: ({ user }) => ({ username: user.username, role: user.role, vmScope: user.vmScope ?? null }),
    }),
    route({
      method: 'POST', path: '/api/auth/password', tag: 'auth', role: 'viewer', produces: 'none',
      summary: 'Change your own password (needs the current one); your other sessions end',
      query: NoQuery, body: ChangePasswordSchema, maxBodyBytes: 8 * 1024,
      handler: async ({ user, body }) => {
        sessionOnly(user, 'change your password');
        await auth.changePassword(user, body.currentPassword, body.newPassword);
        d.kick((u) => u.id === user.id && !u.tokenId && u.sessionKey !== user.sessionKey, 'password changed');
      },
    }),
    route({
      method: 'GET', path: '/api/auth/tokens', tag: 'auth', summary: 'Your API tokens (never the secrets)', query: NoQuery,
      response: z.object({ tokens: z.array(TokenSchema) }),
      handler: ({ user }) => ({ tokens: auth.listTokens(user.id).map(toToken) }),
    }),
    route({
      method: 'POST', path: '/api/auth/tokens', tag: 'auth', role: 'viewer', status: 201,
      summary: 'Create an API token (shown once; use as Authorization: Bearer), with a role up to yours and optionally limited to one VM',
      query: NoQuery, body: CreateTokenSchema, response: CreatedTokenSchema,
      handler: ({ user, body, audit }) => {
        sessionOnly(user, 'create API tokens');
        if (body.vmId && !d.canSeeVm(user, body.vmId)) throw new ApiError('VM_NOT_FOUND', 'No such VM');
        const { token, record } = auth.createToken(user, { name: body.name, role: body.role, vmId: body.vmId ?? null, expiresInDays: body.expiresInDays ?? null });
        audit.vmId = body.vmId ?? null;
        audit.extra = { tokenId: record.id, role: record.role };
        return { ...toToken(record), token };
      },
    }),
    route({
      method: 'DELETE', path: '/api/auth/tokens/{tid}', tag: 'auth', role: 'viewer',
      summary: 'Revoke one of your API tokens; what it opened closes at once', params: TokenParams, query: NoQuery, response: TokenSchema,
      handler: ({ user, params }) => {
        const t = auth.getToken(params.tid);
        if (!t || t.userId !== user.id) throw new ApiError('NOT_FOUND', 'No such token');
        if (user.tokenId && user.tokenId !== t.id) sessionOnly(user, 'revoke other tokens');
        const revoked = auth.revokeToken(t.id);
        d.kick((u) => u.tokenId === t.id, 'API token revoked');
        return toToken(revoked);
      },
    }),
  ];
}
