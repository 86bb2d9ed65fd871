/**
 * One running QEMU: its QMP connection, its lifecycle state machine, and the record of what it
 * runs (live.json in the run dir, rewritten atomically on every live change so a restarted server
 * knows it). QMP events never patch state directly: they trigger a re-read of query-status, and
 * the owner is told to push a fresh snapshot. A closed QMP socket means QEMU is gone; whether that
 * was a shutdown or a crash depends on what we asked for and what QEMU said before it went.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { HardwareSchema } from '../../lib/schemas/vm';
import type { QmpClient } from '../qemu/qmp/client';
import type { QmpEvent } from '../qemu/qmp/types';
import type { RunPaths } from '../qemu/paths';
import { cleanRunDir, ensureDead, isAlive, logTail } from '../qemu/process';
import { writeJsonAtomic } from '../store/atomic';
import type { HardwareField } from './pending';
import { HotplugStateSchema } from './hotplug/state';

export type RuntimeStatus = 'starting' | 'running' | 'paused' | 'shutting-down' | 'stopping';

export const LiveRecordSchema = z.object({
  pid: z.int(),
  startedAt: z.string(),
  accel: z.enum(['kvm', 'tcg']),
  argv: z.array(z.string()),
  live: HardwareSchema,
  pendingReasons: z.record(z.string(), z.string()).default({}),
  /** Hotplug bookkeeping (ports, unplugs in progress, ...); derived from argv on first use. */
  hotplug: HotplugStateSchema.optional(),
});
export type LiveRecord = z.infer<typeof LiveRecordSchema>;

export interface RuntimeHooks {
  changed(): void;
  exited(outcome: { crashed: boolean; reason: string | null }): void;
}

/** How long to let QEMU exit on its own after its QMP socket closed before SIGKILL. */
const EXIT_GRACE_MS = 2000;

export class VmRuntime {
  status: RuntimeStatus = 'starting';
  qmp: QmpClient | null = null;
  shutdownRequestedAt: number | null = null;
  shutdownIgnored = false;
  cpuPercent: number | null = null;
  /** Set when we asked QEMU to go away (poweroff) or the guest powered off: an exit is not a crash. */
  private exitExpected = false;
  private guestShutdown = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private shutdownTimer: NodeJS.Timeout | null = null;
  private exited = false;
  private lastTicks: { ticks: number; at: number } | null = null;

  constructor(
    readonly vmId: string,
    readonly paths: RunPaths,
    public record: LiveRecord,
    private readonly hooks: RuntimeHooks,
  ) {}

  get pid(): number {
    return this.record.pid;
  }

  persist(): void {
    writeJsonAtomic(this.paths.live, this.record);
  }

  setPendingReason(field: HardwareField, reason: string | null): void {
    if (reason) this.record.pendingReasons[field] = reason;
    else delete this.record.pendingReasons[field];
  }

  /** Takes ownership of a connected QMP client. */
  attach(qmp: QmpClient): void {
    this.qmp = qmp;
    qmp.on('event', (ev: QmpEvent) => this.onEvent(ev));
    qmp.on('close', () => void this.onClose());
  }

  /** Server shutdown: let go of QEMU without treating the closed socket as QEMU's exit. */
  detach(): void {
    this.exited = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    this.qmp?.removeAllListeners();
    this.qmp?.close();
  }

  /** Re-reads the run state from QEMU. A guest that powered off while nobody listened is finished here. */
  async refresh(): Promise<void> {
    const qmp = this.qmp;
    if (!qmp || this.exited) return;
    try {
      const st = await qmp.execute('query-status');
      if (st.status === 'shutdown' || st.status === 'guest-panicked') {
        this.guestShutdown = st.status === 'shutdown';
        await this.quit();
        return;
      }
      const base: RuntimeStatus = st.running ? 'running' : 'paused';
      if (this.status === 'stopping') return;
      if (this.status === 'shutting-down' && base === 'running') return;
      this.status = base;
    } catch {
      // A timeout or a closing socket: onClose handles the latter; the next event retries the former.
    }
    this.hooks.changed();
  }

  private onEvent(ev: QmpEvent): void {
    if (ev.event === 'SHUTDOWN') {
      const data = (ev.data ?? {}) as { guest?: boolean; reason?: string };
      if (data.guest) {
        this.guestShutdown = true;
        void this.quit();
      }
      return;
    }
    if (ev.event === 'RESET' && this.status === 'shutting-down' && (ev.data as { guest?: boolean } | undefined)?.guest) {
      // The guest rebooted instead of powering off: the ACPI request is finished.
      this.clearShutdownRequest();
    }
    // Coalesce bursts (STOP+RESUME, tray moves, ...) into one re-read.
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 5);
  }

  /** ACPI power button; the guest decides. After `timeoutMs` the UI offers a force power-off. */
  async requestShutdown(timeoutMs: number): Promise<void> {
    await this.qmp!.execute('system_powerdown');
    this.status = 'shutting-down';
    this.shutdownRequestedAt = Date.now();
    this.shutdownIgnored = false;
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    this.shutdownTimer = setTimeout(() => {
      if (this.exited || this.status !== 'shutting-down') return;
      this.shutdownIgnored = true;
      this.hooks.changed();
    }, timeoutMs);
    this.shutdownTimer.unref();
    this.hooks.changed();
  }

  private clearShutdownRequest(): void {
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    this.shutdownTimer = null;
    this.shutdownRequestedAt = null;
    this.shutdownIgnored = false;
    if (this.status === 'shutting-down') this.status = 'running';
  }

  /** Force power-off: QMP quit, then SIGKILL if QEMU does not answer. Resolves once QEMU is gone. */
  async quit(): Promise<void> {
    this.exitExpected = true;
    if (this.status !== 'stopping') {
      this.status = 'stopping';
      this.hooks.changed();
    }
    const gone = new Promise<void>((resolve) => {
      if (this.exited) resolve();
      else this.onExitOnce.push(resolve);
    });
    try {
      await this.qmp?.execute('quit', undefined, { timeoutMs: 1000 });
    } catch {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!this.qmp?.connected) void this.onClose();
    await gone;
  }

  private onExitOnce: (() => void)[] = [];

  private async onClose(): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    const killed = await ensureDead(this.pid, this.exitExpected ? EXIT_GRACE_MS : 300);
    const crashed = !this.exitExpected && !this.guestShutdown;
    let reason: string | null = null;
    if (crashed) {
      const tail = logTail(this.paths, 1500);
      reason = `QEMU exited unexpectedly${killed ? ' and was killed' : ''}${tail ? `: ${tail}` : ' (no output in its log)'}`;
    }
    cleanRunDir(this.paths, crashed);
    this.hooks.exited({ crashed, reason });
    for (const f of this.onExitOnce.splice(0)) f();
  }

  /** Used when a reattach finds the process dead or foreign: nothing to talk to. */
  static deadOnArrival(paths: RunPaths): string {
    const tail = logTail(paths, 1500);
    return `QEMU exited while the server was not running${tail ? `: ${tail}` : ''}`;
  }

  /** CPU usage since the last sample, as a percentage of one host core. */
  sampleCpu(ticksNow: number | null, clkTck = 100): void {
    if (ticksNow === null) return;
    const now = Date.now();
    if (this.lastTicks) {
      const dt = (now - this.lastTicks.at) / 1000;
      if (dt > 0) this.cpuPercent = Math.round((((ticksNow - this.lastTicks.ticks) / clkTck / dt) * 100) * 10) / 10;
    }
    this.lastTicks = { ticks: ticksNow, at: now };
  }

  get alive(): boolean {
    return !this.exited && isAlive(this.pid);
  }
}

export function readLiveRecord(paths: RunPaths): LiveRecord | null {
  try {
    const r = LiveRecordSchema.safeParse(JSON.parse(fs.readFileSync(paths.live, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
