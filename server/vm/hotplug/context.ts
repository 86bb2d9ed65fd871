/**
 * What every live hotplug operation works on: the VM's QMP connection, its live record (the
 * hardware the running QEMU has) and the hotplug bookkeeping in it, plus how to persist them.
 * The device modules (cpu, memory, disk, nic, cdrom) are functions of this context only, which
 * keeps them testable with a fake QMP peer (test/unit/hotplug*.test.ts).
 *
 * Callers hold the VM's lock (VmManager.lock): one hotplug operation per VM at a time.
 */
import { ApiError, isApiError, type ErrorCode } from '../../../lib/errors';
import type { QmpClient } from '../../qemu/qmp/client';
import type { QmpGreeting } from '../../qemu/qmp/types';
import type { LiveRecord } from '../runtime';
import { stateFromArgv, type HotplugState } from './state';

/** The part of QmpClient the hotplug code uses. */
export interface QmpLike {
  execute: QmpClient['execute'];
  waitForEvent: QmpClient['waitForEvent'];
  greeting?: QmpGreeting;
}

export interface LiveCtx {
  vmId: string;
  qmp: QmpLike;
  record: LiveRecord;
  state: HotplugState;
  /** Writes live.json atomically. Called after every step that changes what QEMU has. */
  persist(): void;
  /** '<pool>/<file>' → absolute path confined to the pool (StoragePools.resolve). */
  resolve(ref: string): string;
  /**
   * Lets QEMU open a file it did not have at launch: as root it runs as an unprivileged user
   * (-runas), so a hotplugged image must be handed to that user first (auth/qemu-user.ts).
   */
  grant(file: string, mode: 'rw' | 'ro'): void;
  /** How long to wait for the guest to release a device after device_del (QMP.md pitfall 6: 5 s). */
  unplugTimeoutMs: number;
}

export type LiveOutcome = { result: 'live' } | { result: 'pending'; reason: string } | { result: 'unplug-pending'; reason: string };

export const LIVE: LiveOutcome = { result: 'live' };

export function pending(reason: string): LiveOutcome {
  return { result: 'pending', reason };
}

/** The record's hotplug state, derived from the launch argv the first time it is needed. */
export function ensureState(record: LiveRecord): HotplugState {
  record.hotplug ??= stateFromArgv(record.argv, record.live.machine, record.live.cdrom);
  return record.hotplug;
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** QEMU's answers for "no such device / node / netdev / object". */
export function isNotFound(e: unknown): boolean {
  if (!isApiError(e) || e.code !== 'QEMU_FAILED') return false;
  const cls = (e.detail as { class?: string } | undefined)?.class;
  return cls === 'DeviceNotFound' || /not found|Failed to find node|Cannot find device|No such/i.test(e.message);
}

/** Runs a cleanup command; a failure there must not hide the error that made us clean up. */
export async function bestEffort(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch {
    /* cleanup only */
  }
}

/**
 * Turns a QEMU refusal of a hotplug into the stable code a client can act on. Anything QEMU says
 * about slots, buses or locks is the caller's situation (409), not our failure.
 */
export function hotplugError(e: unknown, what: string): Error {
  if (!isApiError(e) || e.code !== 'QEMU_FAILED') return e as Error;
  const msg = e.message;
  let code: ErrorCode = 'QEMU_FAILED';
  if (/no slot|no free|slot .* in use|PCI: no|is occupied|not available for/i.test(msg)) code = 'HOTPLUG_NO_SLOT';
  else if (/does not support hotplugging|not supported device type|hotplug.*(not|un)supported|cannot be unplugged/i.test(msg)) code = 'HOTPLUG_UNSUPPORTED';
  else if (/Failed to get "?\w+"? lock|is locked/i.test(msg)) code = 'VOLUME_IN_USE';
  return new ApiError(code, `${what}: ${msg}`, e.detail);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
