/**
 * vCPU hotplug (QMP.md §2). The topology is one socket with maxVcpus cores, so slot N is core-id N
 * and its device is cpuN (ids.ts); cpu0 comes from -smp and is permanent.
 *
 * Adding: device_add of the type and props query-hotpluggable-cpus reports for a free slot. The
 * guest sees the CPU offline until it onlines it (the test guest and most distros do that).
 *
 * Removing: device_del, then polling query-hotpluggable-cpus until the slot is empty, because
 * QEMU 7.2 sends no DEVICE_DELETED carrying the cpu id (pitfall 2). BUT: QEMU 7.2.22 here
 * corrupts its heap on the next device_add after a completed CPU hot-unplug (pitfall 1,
 * reproduced 3/3: "double free or corruption", QEMU aborts, the VM dies). So a reduction on a
 * running VM is only done live when the capability probe below says the running QEMU is safe;
 * otherwise it is stored as pending for the next boot, with the reason.
 *
 * The probe is a version check: QEMU < 8.0 is treated as unsafe. We have not verified 8.x here,
 * but the crash is in the 7.2 CPU unplug path and PVE/libvirt exercise CPU unplug on current
 * versions routinely. VMM_CPU_HOT_UNPLUG=allow|deny overrides the probe (allow: at your own risk,
 * e.g. after reproducing pitfall 1 on your hosts and finding it fixed; deny: never unplug live).
 */
import { ApiError } from '../../../lib/errors';
import { cpuDeviceId } from '../../qemu/argv';
import type { HotpluggableCpu } from '../../qemu/qmp/types';
import { errText, hotplugError, LIVE, pending, sleep, type LiveCtx, type LiveOutcome, type QmpLike } from './context';

export const CPU_UNPLUG_MIN_VERSION = { major: 8, minor: 0 };

export interface CpuUnplugProbe {
  safe: boolean;
  /** Why a reduction is not done live (set when !safe). */
  reason: string;
  version: string | null;
}

/** Can this QEMU remove a vCPU without risking the VM? (See the header.) */
export function probeCpuUnplug(qmp: Pick<QmpLike, 'greeting'>, override = process.env.VMM_CPU_HOT_UNPLUG): CpuUnplugProbe {
  const v = qmp.greeting?.version.qemu;
  const version = v ? `${v.major}.${v.minor}.${v.micro}` : null;
  if (override === 'allow') return { safe: true, reason: '', version };
  if (override === 'deny') return { safe: false, reason: 'Live vCPU removal is disabled on this server (VMM_CPU_HOT_UNPLUG=deny); the new count applies at next boot', version };
  const safe = !!v && (v.major > CPU_UNPLUG_MIN_VERSION.major || (v.major === CPU_UNPLUG_MIN_VERSION.major && v.minor >= CPU_UNPLUG_MIN_VERSION.minor));
  return {
    safe,
    reason: safe
      ? ''
      : `vCPUs are removed at next boot: QEMU ${version ?? '(unknown version)'} can corrupt its heap and crash on the next hotplug after a vCPU is unplugged (QMP.md pitfall 1), so live vCPU removal needs QEMU ${CPU_UNPLUG_MIN_VERSION.major}.${CPU_UNPLUG_MIN_VERSION.minor} or later`,
    version,
  };
}

function coreId(slot: HotpluggableCpu): number {
  return slot.props['core-id'] ?? -1;
}

/** Number of vCPUs QEMU has now. */
export function presentVcpus(slots: HotpluggableCpu[]): number {
  return slots.filter((s) => s['qom-path']).reduce((n, s) => n + s['vcpus-count'], 0);
}

/** The cpuN id of a slot's device, if it is one of ours (cold-plugged or hotplugged). */
function peripheralId(slot: HotpluggableCpu): string | null {
  const m = /^\/machine\/peripheral\/([^/]+)$/.exec(slot['qom-path'] ?? '');
  return m ? m[1] : null;
}

export async function setVcpusLive(ctx: LiveCtx, count: number): Promise<LiveOutcome> {
  const live = ctx.record.live;
  if (count < 1 || count > live.maxVcpus) {
    throw new ApiError('HOTPLUG_LIMIT', `A running VM can have 1 to ${live.maxVcpus} vCPUs (its max vCPUs, fixed at boot); asked for ${count}`, { max: live.maxVcpus });
  }
  const slots = await ctx.qmp.execute('query-hotpluggable-cpus');
  live.vcpus = presentVcpus(slots);
  if (count === live.vcpus) return LIVE;
  return count > live.vcpus ? addVcpus(ctx, slots, count) : removeVcpus(ctx, slots, count);
}

async function addVcpus(ctx: LiveCtx, slots: HotpluggableCpu[], count: number): Promise<LiveOutcome> {
  const live = ctx.record.live;
  const free = slots.filter((s) => !s['qom-path'] && coreId(s) > 0).sort((a, b) => coreId(a) - coreId(b));
  const need = count - live.vcpus;
  if (free.length < need) throw new ApiError('HOTPLUG_NO_SLOT', `Only ${free.length} free vCPU slot(s) left`);
  ctx.state.intent = { op: 'vcpus', count };
  ctx.persist();
  try {
    for (const slot of free.slice(0, need)) {
      const { props, type } = slot;
      await ctx.qmp.execute('device_add', { driver: type, id: cpuDeviceId(coreId(slot)), ...props });
      live.vcpus += slot['vcpus-count'];
      ctx.persist();
    }
  } catch (e) {
    throw hotplugError(e, 'Could not add a vCPU');
  } finally {
    ctx.state.intent = null;
    ctx.persist();
  }
  return LIVE;
}

async function removeVcpus(ctx: LiveCtx, slots: HotpluggableCpu[], count: number): Promise<LiveOutcome> {
  const probe = probeCpuUnplug(ctx.qmp);
  if (!probe.safe) return pending(probe.reason);
  const live = ctx.record.live;
  const victims = slots.filter((s) => peripheralId(s)).sort((a, b) => coreId(b) - coreId(a));
  for (const slot of victims) {
    if (live.vcpus <= count) break;
    const id = peripheralId(slot)!;
    ctx.state.unplugs[id] = { kind: 'cpu', id, since: new Date().toISOString(), nodes: [], netdev: null, object: null };
    ctx.persist();
    try {
      await ctx.qmp.execute('device_del', { id });
    } catch (e) {
      delete ctx.state.unplugs[id];
      ctx.persist();
      if (/not supported device type/i.test(errText(e))) {
        throw new ApiError(
          'HOTPLUG_UNSUPPORTED',
          'The guest cannot release a vCPU yet: it is still in firmware (or runs no ACPI OS), and QEMU can only unplug a vCPU once the OS has enabled ACPI CPU hotplug. Try again after boot, or set the count for next boot while the VM is off',
          { qemu: errText(e) },
        );
      }
      throw hotplugError(e, `Could not remove vCPU ${id}`);
    }
    if (await cpuGone(ctx.qmp, coreId(slot), ctx.unplugTimeoutMs)) {
      delete ctx.state.unplugs[id];
      live.vcpus -= slot['vcpus-count'];
      ctx.persist();
    } else {
      return { result: 'unplug-pending', reason: `The guest has not released vCPU ${id} within ${ctx.unplugTimeoutMs / 1000} s; it is removed when it does` };
    }
  }
  return live.vcpus <= count ? LIVE : pending('Only hotplugged vCPUs (cpu1 and up) can be removed live; the rest applies at next boot');
}

/** Polls (no DEVICE_DELETED for CPUs on 7.2) until the slot of core `core` is empty. */
export async function cpuGone(qmp: QmpLike, core: number, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slots = await qmp.execute('query-hotpluggable-cpus');
    const slot = slots.find((s) => coreId(s) === core);
    if (!slot || !slot['qom-path']) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}
