/**
 * REST handlers for the host, storage pools and authentication.
 */
import { z } from 'zod';
import { ApiError } from '../../lib/errors';
import { CreateTokenSchema, LoginSchema, MeSchema } from '../../lib/schemas/auth';
import { HostInfoSchema } from '../../lib/schemas/host';
import { CreateVolumeSchema, VolumeSchema } from '../../lib/schemas/pool';
import { volumeFile } from '../../lib/schemas/common';
import { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie, type Auth } from '../auth/auth';
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

export function poolRoutes(pools: StoragePools, m: VmManager): RouteDef[] {
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
      handler: ({ params }) => {
        const ref = `${params.pool}/${params.name}`;
        const by = users(ref);
        if (by.length) throw new ApiError('VOLUME_IN_USE', `"${params.name}" is used by ${by.map((id) => m.store.get(id)?.name ?? id).join(', ')}`);
        pools.remove(ref);
      },
    }),
  ];
}

export function authRoutes(auth: Auth, secure: boolean): RouteDef[] {
  return [
    route({
      method: 'POST', path: '/api/auth/login', tag: 'auth', summary: 'Log in; sets an HttpOnly SameSite=Strict session cookie', auth: 'none',
      query: NoQuery, body: LoginSchema, response: MeSchema, maxBodyBytes: 8 * 1024,
      handler: async ({ body, res, ip }) => {
        const { user, sessionId } = await auth.login(body.username, body.password, ip);
        res.setHeader('set-cookie', sessionCookie(sessionId, secure));
        return { username: user.username, role: user.role };
      },
    }),
    route({
      method: 'POST', path: '/api/auth/logout', tag: 'auth', summary: 'End this session', role: 'viewer', query: NoQuery, produces: 'none',
      handler: ({ req, res }) => {
        const sid = readCookie(req, SESSION_COOKIE);
        if (sid) auth.logout(sid);
        res.setHeader('set-cookie', clearedSessionCookie(secure));
      },
    }),
    route({
      method: 'GET', path: '/api/auth/me', tag: 'auth', summary: 'Who am I', query: NoQuery, response: MeSchema,
      handler: ({ user }) => ({ username: user.username, role: user.role }),
    }),
    route({
      method: 'POST', path: '/api/auth/tokens', tag: 'auth', summary: 'Create an API token (shown once; use as Authorization: Bearer)', role: 'viewer',
      query: NoQuery, body: CreateTokenSchema, response: z.object({ id: z.int(), name: z.string(), token: z.string() }), status: 201,
      handler: ({ user, body }) => ({ ...auth.createToken(user, body.name), name: body.name }),
    }),
  ];
}
