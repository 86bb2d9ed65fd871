/**
 * The per-device state shown in VmView.devices while a VM runs (live / pending with its reason /
 * unplugging), and the live summary (VmView.live). Pure: a function of the stored config and the
 * live record, so the UI and the API see one consistent answer.
 */
import type { DeviceState, VmConfig, VmView } from '../../../lib/schemas/vm';
import { CDROM_ID, cpuDeviceId } from '../../qemu/argv';
import type { LiveRecord } from '../runtime';
import { COLD_REASONS } from '../pending';
import { DISK_CHANGE_REASON } from './disk';
import { NIC_CHANGE_REASON } from './nic';
import { freePorts } from './ports';
import { stateFromArgv, type HotplugState } from './state';

type Identified = { id: string };

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function devicesOf<T extends Identified>(
  kind: 'disk' | 'nic',
  stored: T[],
  live: T[],
  st: HotplugState,
  fieldReason: string | undefined,
  changeReason: string,
  out: Record<string, DeviceState>,
  equal: (a: T, b: T) => boolean = same,
): void {
  const why = (id: string, fallback: string) => st.reasons[id] ?? fieldReason ?? fallback;
  for (const d of stored) {
    const l = live.find((x) => x.id === d.id);
    if (st.unplugs[d.id]) out[d.id] = { kind, state: 'unplugging', reason: 'Waiting for the guest to release it' };
    else if (!l) out[d.id] = { kind, state: 'pending', action: 'add', reason: why(d.id, kind === 'disk' ? COLD_REASONS.disks : COLD_REASONS.nics) };
    else if (!equal(d, l)) out[d.id] = { kind, state: 'pending', action: 'change', reason: st.reasons[d.id] ?? changeReason };
    else out[d.id] = { kind, state: 'live' };
  }
  for (const l of live) {
    if (stored.some((d) => d.id === l.id)) continue;
    out[l.id] = st.unplugs[l.id]
      ? { kind, state: 'unplugging', action: 'remove', reason: 'Waiting for the guest to release it' }
      : { kind, state: 'pending', action: 'remove', reason: why(l.id, kind === 'disk' ? COLD_REASONS.disks : COLD_REASONS.nics) };
  }
}

/** Derived from argv until the first hotplug stores the state; cached so views don't re-derive it per read. */
const derived = new WeakMap<LiveRecord, { cdrom: string | null; state: HotplugState }>();

export function hotplugStateOf(record: LiveRecord): HotplugState {
  if (record.hotplug) return record.hotplug;
  const hit = derived.get(record);
  if (hit && hit.cdrom === record.live.cdrom) return hit.state;
  const state = stateFromArgv(record.argv, record.live.machine, record.live.cdrom);
  derived.set(record, { cdrom: record.live.cdrom, state });
  return state;
}

export function deviceStates(stored: VmConfig, record: LiveRecord): Record<string, DeviceState> {
  const live = record.live;
  const st = hotplugStateOf(record);
  const reasons = record.pendingReasons;
  const out: Record<string, DeviceState> = {};
  devicesOf('disk', stored.disks, live.disks, st, reasons.disks, DISK_CHANGE_REASON, out);
  // linkUp alone is applied live (set_link), so it never makes a NIC pending by itself.
  devicesOf('nic', stored.nics, live.nics, st, reasons.nics, NIC_CHANGE_REASON, out, (a, b) => same({ ...a, linkUp: true }, { ...b, linkUp: true }));
  out[CDROM_ID] =
    stored.cdrom === live.cdrom
      ? { kind: 'cdrom', state: 'live' }
      : { kind: 'cdrom', state: 'pending', action: 'change', reason: reasons.cdrom ?? COLD_REASONS.cdrom };
  const cpus = Math.max(stored.vcpus, live.vcpus);
  for (let i = 0; i < cpus; i++) {
    const id = cpuDeviceId(i);
    if (st.unplugs[id]) out[id] = { kind: 'cpu', state: 'unplugging', action: 'remove', reason: 'Waiting for the guest to release it' };
    else if (i < Math.min(stored.vcpus, live.vcpus)) out[id] = { kind: 'cpu', state: 'live' };
    else if (i >= stored.vcpus) out[id] = { kind: 'cpu', state: 'pending', action: 'remove', reason: reasons.vcpus ?? COLD_REASONS.vcpus };
    else out[id] = { kind: 'cpu', state: 'pending', action: 'add', reason: reasons.vcpus ?? COLD_REASONS.vcpus };
  }
  for (const d of st.dimms) out[d.id] = { kind: 'dimm', state: st.unplugs[d.id] ? 'unplugging' : 'live' };
  return out;
}

export function liveSummary(record: LiveRecord): NonNullable<VmView['live']> {
  const live = record.live;
  const st = hotplugStateOf(record);
  return {
    vcpus: live.vcpus,
    maxVcpus: live.maxVcpus,
    memoryMiB: live.memoryMiB,
    maxMemoryMiB: live.maxMemoryMiB,
    balloonMiB: live.balloonMiB,
    cdrom: live.cdrom,
    freePorts: st.machine === 'q35' ? freePorts(st).length : null,
    freeDimmSlots: Math.max(0, st.memorySlots - st.dimms.length),
  };
}
