/**
 * Unplugging PCI/SCSI devices (disks, NICs): the libvirt way (QMP.md §4.3, pitfalls 6 and 7).
 *
 * 1. Record the unplug in live.json first (so a restart knows it was asked for).
 * 2. Listen for DEVICE_DELETED carrying `device: <id>` (the child `.../virtio-backend` event has no
 *    `device` field and comes first), then send device_del — which only *asks* the guest.
 * 3. If the event comes within the timeout (5 s, as libvirt and PVE), free the backends:
 *    blockdev-del top node then protocol node, or netdev_del (never before: pitfall 8), or
 *    object-del. Otherwise the device stays "unplugging": settleUnplugs() finishes it when a later
 *    DEVICE_DELETED arrives, and reconcile.ts after a server restart. device_del is not repeated
 *    (QEMU may refuse a second request while one is pending).
 */
import { ApiError, isApiError } from '../../../lib/errors';
import { bestEffort, hotplugError, isNotFound, LIVE, type LiveCtx, type LiveOutcome } from './context';
import { presentVcpus } from './cpu';
import { releasePort } from './ports';
import type { Unplug } from './state';

export function unplugPendingReason(id: string, timeoutMs: number): string {
  return `The guest has not released ${id} within ${Math.round(timeoutMs / 1000)} s (it must acknowledge the unplug; a paused or still-booting guest cannot). It is removed from the config now and detached as soon as the guest lets go`;
}

export function isDeviceDeleted(ev: { event: string; data?: Record<string, unknown> }, id: string): boolean {
  return ev.event === 'DEVICE_DELETED' && ev.data?.device === id;
}

export async function unplugDevice(ctx: LiveCtx, u: Omit<Unplug, 'since'>): Promise<LiveOutcome> {
  if (ctx.state.unplugs[u.id]) throw new ApiError('UNPLUG_PENDING', `${u.id} is already being unplugged; waiting for the guest to release it`);
  ctx.state.unplugs[u.id] = { ...u, since: new Date().toISOString() };
  ctx.persist();
  const gone = ctx.qmp.waitForEvent((e) => isDeviceDeleted(e, u.id), ctx.unplugTimeoutMs);
  gone.catch(() => {}); // observed below; never an unhandled rejection if device_del fails first
  try {
    await ctx.qmp.execute('device_del', { id: u.id });
  } catch (e) {
    if (isNotFound(e)) {
      // QEMU no longer has it (e.g. an unplug finished while nobody listened): just free the rest.
      await finishUnplug(ctx, u.id);
      return LIVE;
    }
    delete ctx.state.unplugs[u.id];
    ctx.persist();
    throw hotplugError(e, `Could not detach ${u.id}`);
  }
  try {
    await gone;
  } catch (e) {
    if (isApiError(e) && e.code === 'UNPLUG_TIMEOUT') return { result: 'unplug-pending', reason: unplugPendingReason(u.id, ctx.unplugTimeoutMs) };
    throw e;
  }
  await finishUnplug(ctx, u.id);
  return LIVE;
}

/** The device is gone from QEMU: free its backends and forget it. Idempotent. */
export async function finishUnplug(ctx: LiveCtx, id: string): Promise<void> {
  const st = ctx.state;
  const u = st.unplugs[id];
  if (!u) return;
  for (const node of u.nodes) await bestEffort(ctx.qmp.execute('blockdev-del', { 'node-name': node }));
  if (u.netdev) await bestEffort(ctx.qmp.execute('netdev_del', { id: u.netdev }));
  if (u.object) await bestEffort(ctx.qmp.execute('object-del', { id: u.object }));
  const live = ctx.record.live;
  if (u.kind === 'disk') live.disks = live.disks.filter((d) => d.id !== id);
  if (u.kind === 'nic') live.nics = live.nics.filter((n) => n.id !== id);
  if (u.kind === 'dimm') st.dimms = st.dimms.filter((d) => d.id !== id);
  releasePort(st, id);
  delete st.scsiIds[id];
  delete st.unplugs[id];
  delete st.reasons[id];
  ctx.persist();
}

/** Device ids QEMU has under /machine/peripheral. */
export async function peripheralIds(ctx: Pick<LiveCtx, 'qmp'>): Promise<Map<string, string>> {
  const list = await ctx.qmp.execute('qom-list', { path: '/machine/peripheral' });
  const out = new Map<string, string>();
  for (const p of list) {
    const m = /^child<(.+)>$/.exec(p.type);
    if (m) out.set(p.name, m[1]);
  }
  return out;
}

/**
 * Finishes every pending unplug whose device QEMU no longer has (events trigger a re-read, never
 * a patch). Returns true if anything changed.
 */
export async function settleUnplugs(ctx: LiveCtx): Promise<boolean> {
  const pending = Object.values(ctx.state.unplugs);
  if (pending.length === 0) return false;
  let changed = false;
  const present = await peripheralIds(ctx);
  for (const u of pending) {
    if (u.kind === 'cpu') continue;
    if (!present.has(u.id)) {
      await finishUnplug(ctx, u.id);
      changed = true;
    }
  }
  if (pending.some((u) => u.kind === 'cpu')) {
    const slots = await ctx.qmp.execute('query-hotpluggable-cpus');
    const paths = new Set(slots.map((s) => s['qom-path']).filter(Boolean));
    for (const u of pending.filter((x) => x.kind === 'cpu')) {
      if (!paths.has(`/machine/peripheral/${u.id}`)) {
        delete ctx.state.unplugs[u.id];
        changed = true;
      }
    }
    ctx.record.live.vcpus = presentVcpus(slots);
    ctx.persist();
  }
  return changed;
}
