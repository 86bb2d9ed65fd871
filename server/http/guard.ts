/**
 * Per-object authorization for the REST API, applied by the router to every route (RouteGuard),
 * so that route modules stay about their resource and a new route under /api/vms/{id} is covered
 * without anyone remembering to add a check:
 *
 * - /api/vms/{id}/...: the VM must be visible to the caller (grant or admin, and the token's VM
 *   scope); otherwise 404 VM_NOT_FOUND, the same answer as for a VM that does not exist.
 * - a token limited to one VM may read, and may change only that VM.
 * - volume references anywhere in a body (create, edit, hotplug, CD-ROM change) must be volumes the
 *   caller may use (access.ts); when QEMU runs unprivileged, existing volumes a running VM is about
 *   to open are handed to the QEMU user first.
 * - quotas: creating a VM (owned-VM count) and starting one (running-VM count).
 * - lists are filtered to what the caller may see (GET /api/vms, volumes and their usedBy).
 * - ownership is recorded: a created VM is granted to its creator; created volumes belong to them.
 */
import fs from 'node:fs';
import { ApiError, isApiError } from '../../lib/errors';
import { VOLUME_REF_RE } from '../../lib/schemas/common';
import type { VmView } from '../../lib/schemas/vm';
import type { Volume } from '../../lib/schemas/pool';
import { isAdminAccount, type Access } from '../auth/access';
import type { Auth, User } from '../auth/auth';
import { handVolumeToQemu, qemuIdentity } from '../auth/qemu-user';
import type { StoragePools } from '../storage/pool';
import type { RouteContext, RouteDef, RouteGuard } from './router';

const VM_PATH = '/api/vms/{id}';

function isVmRoute(def: RouteDef): boolean {
  return def.path === VM_PATH || def.path.startsWith(`${VM_PATH}/`);
}

/** Every string in a body that names a volume (`<pool>/<file>`), with whether it is meant read-only. */
export function volumeRefsIn(v: unknown, out: Map<string, 'rw' | 'ro'> = new Map(), readonly = false, depth = 0): Map<string, 'rw' | 'ro'> {
  if (depth > 8) return out;
  if (typeof v === 'string') {
    if (VOLUME_REF_RE.test(v) && out.get(v) !== 'rw') out.set(v, readonly ? 'ro' : 'rw');
  } else if (Array.isArray(v)) {
    for (const x of v) volumeRefsIn(x, out, readonly, depth + 1);
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const ro = readonly || o.readonly === true;
    for (const [k, x] of Object.entries(o)) volumeRefsIn(x, out, ro || k === 'cdrom' || k === 'kernel' || k === 'initrd', depth + 1);
  }
  return out;
}

export interface GuardDeps {
  access: Access;
  auth: Pick<Auth, 'getUser'>;
  pools: Pick<StoragePools, 'resolve'>;
  /** Is this VM running (its QEMU will open hotplugged volumes as the QEMU user)? */
  isRunning(vmId: string): boolean;
  /** The volumes a VM's config uses now (to tell which volumes a call created). */
  vmVolumes(vmId: string): string[];
  /** A user's grants changed (their live VM list must follow). */
  grantsChanged?(userId: number): void;
}

export function makeGuard(d: GuardDeps): RouteGuard {
  const quotaOf = (user: User) => {
    const u = d.auth.getUser(user.id);
    return d.access.quotaOf({ maxVms: u?.maxVms ?? null, maxRunning: u?.maxRunning ?? null });
  };
  /** Volume refs of a create request that named existing volumes (the rest of its disks are new). */
  const namedRefs = new WeakMap<object, Set<string>>();
  /** Before a change to a VM: its volumes then, so that volumes the change created can be told apart. */
  const volumesBefore = new WeakMap<object, Set<string>>();

  return {
    params(def, user, params) {
      if (user.vmScope) {
        const own = isVmRoute(def) && params.id === user.vmScope;
        if (!own && (def.method !== 'GET' || def.path.startsWith('/api/admin'))) {
          throw new ApiError('FORBIDDEN', 'This API token is limited to one VM');
        }
      }
      if (isVmRoute(def) && typeof params.id === 'string') d.access.requireVm(user, params.id);
    },

    before(def, ctx) {
      const { user } = ctx;
      if (def.method === 'GET') return;
      const refs = volumeRefsIn(ctx.body);
      for (const ref of refs.keys()) d.access.requireVolume(user, ref);

      if (def.method === 'POST' && def.path === '/api/vms') {
        const body = ctx.body as { start?: boolean };
        d.access.checkCreate(user, quotaOf(user), !!body?.start);
        namedRefs.set(ctx, new Set(refs.keys()));
      }
      if (isVmRoute(def)) {
        const id = (ctx.params as { id: string }).id;
        const action = (ctx.params as { action?: string }).action;
        volumesBefore.set(ctx, new Set([...d.vmVolumes(id), ...refs.keys()]));
        if (def.method === 'POST' && action === 'start') d.access.checkStart(user, quotaOf(user), id);
        // Hotplug / CD-ROM change: QEMU opens these as the unprivileged user, after its start.
        if (def.path !== VM_PATH && refs.size > 0 && d.isRunning(id) && qemuIdentity()) {
          for (const [ref, mode] of refs) {
            let file: string;
            try {
              file = d.pools.resolve(ref);
            } catch {
              continue; // the handler reports a bad ref with its own error
            }
            if (fs.existsSync(file)) handVolumeToQemu(file, mode);
          }
        }
      }
      if (def.method === 'DELETE' && def.path === '/api/pools/{pool}/volumes/{name}') {
        const p = ctx.params as { pool: string; name: string };
        const ref = `${p.pool}/${p.name}`;
        d.access.requireVolume(user, ref);
        if (!isAdminAccount(user) && d.access.volumeOwner(ref) !== user.id) {
          throw new ApiError('FORBIDDEN', 'Only an admin may delete a volume you did not create');
        }
      }
    },

    after(def, ctx, outcome) {
      const { user } = ctx;
      const result = outcome.result;
      if (def.method === 'GET' && def.path === '/api/vms' && result && typeof result === 'object') {
        const r = result as { vms: VmView[]; problems: unknown[] };
        return { ...r, vms: r.vms.filter((v) => d.access.canSeeVm(user, v.id)), problems: isAdminAccount(user) ? r.problems : [] };
      }
      if (def.method === 'GET' && def.path === '/api/pools/{pool}/volumes' && result && typeof result === 'object') {
        const r = result as { volumes: Volume[] };
        const volumes = r.volumes
          .filter((v) => d.access.canUseVolume(user, v.ref))
          .map((v) => ({ ...v, usedBy: v.usedBy.filter((id) => d.access.canSeeVm(user, id)) }));
        return { ...r, volumes };
      }
      if (def.method === 'POST' && def.path === '/api/vms') {
        // Created, or created but failed to start (an error carrying the new VM): grant it either way.
        const err = outcome.error;
        const view = (result as VmView | undefined) ?? (isApiError(err) ? ((err.detail as { vm?: VmView } | undefined)?.vm ?? undefined) : undefined);
        if (view?.id) {
          d.access.grant(user.id, view.id, { owner: true, by: user.id });
          // The VM was announced before this grant existed: the creator's live list gets it now.
          d.grantsChanged?.(user.id);
          const named = namedRefs.get(ctx) ?? new Set();
          for (const disk of view.disks ?? []) if (!named.has(disk.volume)) d.access.recordVolumeOwner(disk.volume, user.id);
          ctx.audit.vmId = view.id;
          ctx.audit.extra = { name: view.name };
        }
        return result;
      }
      if (outcome.error) return result;
      const before = volumesBefore.get(ctx);
      if (before && result && typeof result === 'object') {
        // A change that created a disk (hotplug with sizeMiB): the new volume belongs to the caller.
        const vm = ((result as { vm?: VmView }).vm ?? result) as Partial<VmView>;
        for (const disk of Array.isArray(vm.disks) ? vm.disks : []) {
          if (typeof disk?.volume === 'string' && !before.has(disk.volume)) d.access.recordVolumeOwner(disk.volume, user.id);
        }
      }
      if (def.method === 'POST' && def.path === '/api/pools/{pool}/volumes') {
        const v = result as Volume | undefined;
        if (v?.ref) d.access.recordVolumeOwner(v.ref, user.id);
      }
      if (def.method === 'DELETE' && def.path === '/api/pools/{pool}/volumes/{name}') {
        const p = ctx.params as { pool: string; name: string };
        d.access.forgetVolume(`${p.pool}/${p.name}`);
      }
      return result;
    },
  };
}

/** The VM an audited call was about. */
export function auditVmId(route: string, params: Record<string, string>, noted: string | null | undefined): string | null {
  if (noted) return noted;
  if ((route === VM_PATH || route.startsWith(`${VM_PATH}/`)) && params.id) return params.id;
  return null;
}
