/**
 * Memory: pc-dimm hot-add (QMP.md §3.1), the balloon target and the guest's own memory stats
 * (§3.3).
 *
 * Growing adds ONE DIMM of the whole difference (a multiple of DIMM_BLOCK_MIB, Linux's x86 memory
 * block size): object-add memory-backend-ram mem-dimmN, then device_add pc-dimm dimmN. Each DIMM
 * takes one of the `-m slots=` slots fixed at launch; maxmem caps the total.
 *
 * Shrinking is stored as pending for the next boot: giving a DIMM back needs the guest to offline
 * every block of it, which silently never completes unless the memory was onlined movable and
 * nothing pinned it (§3.1 notes), so a live attempt mostly ends in a DIMM stuck "unplugging".
 */
import { ApiError } from '../../../lib/errors';
import { DIMM_BLOCK_MIB } from '../../../lib/schemas/vm';
import type { VmStats } from '../../../lib/schemas/hotplug';
import { BALLOON_ID, dimmIds } from '../../qemu/argv';
import { bestEffort, hotplugError, LIVE, pending, type LiveCtx, type LiveOutcome, type QmpLike } from './context';

const MiB = 1024 * 1024;

export const MEMORY_SHRINK_REASON =
  'Memory is removed at next boot: the guest must offline a DIMM before QEMU can take it back, which rarely completes live (use the balloon to give memory back now)';

export async function setMemoryLive(ctx: LiveCtx, sizeMiB: number): Promise<LiveOutcome> {
  const live = ctx.record.live;
  if (sizeMiB > live.maxMemoryMiB) {
    throw new ApiError('HOTPLUG_LIMIT', `A running VM can grow to at most ${live.maxMemoryMiB} MiB (its max memory, fixed at boot); asked for ${sizeMiB} MiB`, {
      max: live.maxMemoryMiB,
    });
  }
  if (sizeMiB === live.memoryMiB) return LIVE;
  if (sizeMiB < live.memoryMiB) return pending(MEMORY_SHRINK_REASON);
  const delta = sizeMiB - live.memoryMiB;
  if (delta % DIMM_BLOCK_MIB !== 0) {
    throw new ApiError('HOTPLUG_LIMIT', `Memory grows live in steps of ${DIMM_BLOCK_MIB} MiB: ${live.memoryMiB} + ${delta} MiB is not one; try ${live.memoryMiB + Math.ceil(delta / DIMM_BLOCK_MIB) * DIMM_BLOCK_MIB} MiB`, {
      step: DIMM_BLOCK_MIB,
    });
  }
  const st = ctx.state;
  if (st.dimms.length >= st.memorySlots) {
    throw new ApiError('HOTPLUG_NO_SLOT', `All ${st.memorySlots} memory slots of this VM are in use; the new size applies at next boot if you change it while the VM is off`, {
      slots: st.memorySlots,
    });
  }
  const existing = await ctx.qmp.execute('query-memory-devices');
  const taken = new Set([...st.dimms.map((d) => d.id), ...existing.map((d) => (d.data as { id?: string }).id ?? '')]);
  let n = 0;
  while (taken.has(dimmIds(n).device)) n++;
  const ids = dimmIds(n);
  st.intent = { op: 'add-dimm', id: ids.device, backend: ids.backend, sizeMiB: delta };
  ctx.persist();
  try {
    await ctx.qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: ids.backend, size: delta * MiB });
    try {
      await ctx.qmp.execute('device_add', { driver: 'pc-dimm', id: ids.device, memdev: ids.backend });
    } catch (e) {
      await bestEffort(ctx.qmp.execute('object-del', { id: ids.backend }));
      throw e;
    }
    st.dimms.push({ id: ids.device, backend: ids.backend, sizeMiB: delta });
    live.memoryMiB = sizeMiB;
  } catch (e) {
    throw hotplugError(e, `Could not add ${delta} MiB of memory`);
  } finally {
    st.intent = null;
    ctx.persist();
  }
  return LIVE;
}

/** Balloon target in MiB (null: no target, the guest keeps everything). */
export async function setBalloonLive(ctx: LiveCtx, targetMiB: number | null): Promise<LiveOutcome> {
  const live = ctx.record.live;
  if (targetMiB !== null && targetMiB > live.memoryMiB) {
    throw new ApiError('HOTPLUG_LIMIT', `The balloon target (${targetMiB} MiB) cannot exceed the VM's memory (${live.memoryMiB} MiB)`, { max: live.memoryMiB });
  }
  await ctx.qmp.execute('balloon', { value: (targetMiB ?? live.memoryMiB) * MiB });
  live.balloonMiB = targetMiB;
  ctx.persist();
  return LIVE;
}

/** Guest stats polling is switched on per QEMU the first time someone asks (2 s interval). */
const polling = new WeakSet<object>();
const STATS_INTERVAL_S = 2;

function mib(v: unknown): number | null {
  return typeof v === 'number' && v >= 0 && v < 2 ** 62 ? Math.round((v / MiB) * 10) / 10 : null;
}

export async function memoryStats(qmp: QmpLike, targetMiB: number | null): Promise<VmStats> {
  const summary = await qmp.execute('query-memory-size-summary');
  const memory = { baseMiB: summary['base-memory'] / MiB, pluggedMiB: (summary['plugged-memory'] ?? 0) / MiB };
  let balloon: VmStats['balloon'] = null;
  try {
    const b = await qmp.execute('query-balloon');
    balloon = { actualMiB: b.actual / MiB, targetMiB };
  } catch {
    /* no balloon device (never the case for VMs we start) */
  }
  const path = `/machine/peripheral/${BALLOON_ID}`;
  let guest: VmStats['guest'] = null;
  try {
    if (!polling.has(qmp)) {
      await qmp.execute('qom-set', { path, property: 'guest-stats-polling-interval', value: STATS_INTERVAL_S });
      polling.add(qmp);
    }
    const g = (await qmp.execute('qom-get', { path, property: 'guest-stats' })) as { stats?: Record<string, number>; 'last-update'?: number };
    const s = g.stats ?? {};
    if (g['last-update']) {
      guest = {
        lastUpdate: g['last-update'],
        totalMiB: mib(s['stat-total-memory']),
        freeMiB: mib(s['stat-free-memory']),
        availableMiB: mib(s['stat-available-memory']),
        diskCachesMiB: mib(s['stat-disk-caches']),
        raw: s,
      };
    }
  } catch {
    /* the guest has no balloon driver, or QEMU refused: no guest numbers */
  }
  return { memory, balloon, guest };
}
