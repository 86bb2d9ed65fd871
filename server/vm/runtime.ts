/**
 * One running QEMU: its QMP connection, its lifecycle state machine, and the record of what it
 * runs (live.json in the run dir, rewritten atomically on every live change so a restarted server
 * knows it). QMP events never patch state directly: they trigger a re-read of query-status, and
 * the owner is told to push a fresh snapshot. A closed QMP socket means QEMU is gone; whether that
 * was a shutdown or a crash depends on what we asked for and what QEMU said before it went.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { ApiError, isApiError } from '../../lib/errors';
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
  /**
   * Set while a start is in progress (QEMU launched with -S, start-up commands and `cont` not done
   * yet): a server that dies there leaves a QEMU that never ran the guest, and the next server
   * finishes the start (VmManager.reattachAll).
   */
  booting: z.boolean().optional(),
  /** Written before we ask QEMU to quit: if it is gone when the next server starts, that was a power-off, not a crash. */
  exitExpected: z.boolean().optional(),
});
export type LiveRecord = z.infer<typeof LiveRecordSchema>;

export interface RuntimeHooks {
  changed(): void;
  exited(outcome: { crashed: boolean; reason: string | null }): void;
  /** QEMU answers again after it was marked unresponsive (commands may have run late: re-read it). */
  recovered?(): void;
}

/** How long to let QEMU exit on its own after its QMP socket closed before SIGKILL. */
const EXIT_GRACE_MS = 2000;
/** A command unanswered this long makes us look at the process: a stopped one will not answer. */
const STALL_CHECK_MS = 1000;
/** While unresponsive: how often to check whether QEMU answers again, and how long a probe may take. */
const PROBE_EVERY_MS = 1000;
const PROBE_TIMEOUT_MS = 3000;

/** True if the process is stopped (SIGSTOP, SIGTSTP, a debugger): it cannot answer QMP until SIGCONT. */
export function processStopped(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

export interface Unresponsive {
  since: string;
  why: string;
}

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
  /**
   * Set when QEMU stopped answering QMP (a command timed out, or its process is stopped). While
   * set, commands fail at once with QMP_TIMEOUT instead of queueing behind the hung one, the view
   * says so, and a probe clears it as soon as QEMU answers again.
   */
  unresponsive: Unresponsive | null = null;
  /** QMP commands sent through this runtime and not answered yet (the queue plus the one in flight). */
  qmpPending = 0;
  /** The client's own execute, for the probe (which must not be refused while unresponsive). */
  private rawExecute: QmpClient['execute'] | null = null;
  private probeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly vmId: string,
    readonly paths: RunPaths,
    public record: LiveRecord,
    private readonly hooks: RuntimeHooks,
  ) {}

  get pid(): number {
    return this.record.pid;
  }

  /**
   * live.json: atomic (a killed server finds the old record or the new one) but not fsync'd. It
   * describes a running QEMU, which a power loss kills too, so durability would buy nothing and
   * cost two fsyncs on every hotplug step.
   */
  persist(): void {
    writeJsonAtomic(this.paths.live, this.record, 0o600, { durable: false });
  }

  setPendingReason(field: HardwareField, reason: string | null): void {
    if (reason) this.record.pendingReasons[field] = reason;
    else delete this.record.pendingReasons[field];
  }

  /** Takes ownership of a connected QMP client. */
  attach(qmp: QmpClient): void {
    this.qmp = qmp;
    this.guard(qmp);
    qmp.on('event', (ev: QmpEvent) => this.onEvent(ev));
    qmp.on('close', () => void this.onClose());
  }

  /**
   * Every caller (lifecycle, hotplug, screenshots) goes through `rt.qmp.execute`, so that is where a
   * hung QEMU is noticed: the client's execute is wrapped on this instance to
   * - fail at once with QMP_TIMEOUT while the VM is marked unresponsive (quit still goes through:
   *   a power-off must stay possible; it falls back to SIGKILL);
   * - look at the process when a command has waited STALL_CHECK_MS: a stopped QEMU (SIGSTOP) will
   *   not answer before its timeout, so the caller gets QMP_TIMEOUT now and the VM is marked;
   * - mark the VM unresponsive on a QMP_TIMEOUT, and clear that on any answer.
   * A command rejected early may still run when QEMU resumes (as after any timeout): the STOP/RESUME
   * events refresh the state, and `recovered` lets the manager re-read the hardware.
   */
  private guard(qmp: QmpClient): void {
    const raw = qmp.execute.bind(qmp) as QmpClient['execute'];
    this.rawExecute = raw;
    const guarded = (command: Parameters<QmpClient['execute']>[0], args?: unknown, opts?: Parameters<QmpClient['execute']>[2]): Promise<unknown> => {
      if (this.unresponsive && command !== 'quit') return Promise.reject(this.notResponding(command));
      this.qmpPending++;
      const p = (raw as (c: typeof command, a?: unknown, o?: typeof opts) => Promise<unknown>)(command, args, opts);
      return new Promise((resolve, reject) => {
        let settled = false;
        let watchdog: NodeJS.Timeout | null = null;
        const watch = () => {
          watchdog = setTimeout(() => {
            if (settled) return;
            if (processStopped(this.pid)) {
              settled = true;
              this.markUnresponsive('its process is stopped');
              reject(this.notResponding(command));
            } else watch();
          }, STALL_CHECK_MS);
          watchdog.unref();
        };
        watch();
        const done = () => {
          this.qmpPending--;
          if (watchdog) clearTimeout(watchdog);
        };
        p.then(
          (v) => {
            done();
            this.markResponsive();
            if (!settled) resolve(v);
            settled = true;
          },
          (e: unknown) => {
            done();
            if (isApiError(e) && e.code === 'QMP_TIMEOUT') this.markUnresponsive(`no answer to ${command} in time`);
            else if (isApiError(e) && e.code === 'QEMU_FAILED') this.markResponsive(); // an error reply is an answer
            if (!settled) reject(e);
            settled = true;
          },
        );
      });
    };
    qmp.execute = guarded as QmpClient['execute'];
  }

  private notResponding(command: string): ApiError {
    const u = this.unresponsive;
    return new ApiError(
      'QMP_TIMEOUT',
      `QEMU is not responding${u ? ` (${u.why}, since ${u.since})` : ''}; ${command} was not carried out. Try again once it answers, or force it off`,
      { command, unresponsiveSince: u?.since ?? null },
    );
  }

  private markUnresponsive(why: string): void {
    if (this.exited) return;
    if (!this.unresponsive) {
      this.unresponsive = { since: new Date().toISOString(), why };
      this.hooks.changed();
    }
    this.scheduleProbe();
  }

  private markResponsive(): void {
    if (!this.unresponsive || this.exited) return;
    this.unresponsive = null;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.hooks.changed();
    this.hooks.recovered?.();
    void this.refresh();
  }

  /** One probe at a time: a stopped process is not sent anything; otherwise query-status. */
  private scheduleProbe(): void {
    if (this.probeTimer || this.exited) return;
    this.probeTimer = setTimeout(async () => {
      if (this.exited || !this.unresponsive) {
        this.probeTimer = null;
        return;
      }
      if (!processStopped(this.pid) && this.rawExecute) {
        try {
          await this.rawExecute('query-status', undefined, { timeoutMs: PROBE_TIMEOUT_MS });
          this.probeTimer = null;
          this.markResponsive();
          return;
        } catch (e) {
          if (isApiError(e) && e.code === 'QMP_DISCONNECTED') {
            this.probeTimer = null;
            return;
          }
        }
      }
      this.probeTimer = null;
      this.scheduleProbe();
    }, PROBE_EVERY_MS);
    this.probeTimer.unref();
  }

  /** Cheap check (used by the CPU sampler while someone watches): a stopped QEMU is flagged without waiting for a command. */
  checkStopped(): void {
    if (!this.exited && !this.unresponsive && processStopped(this.pid)) this.markUnresponsive('its process is stopped');
  }

  /** Server shutdown: let go of QEMU without treating the closed socket as QEMU's exit. */
  detach(): void {
    this.exited = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.shutdownTimer) clearTimeout(this.shutdownTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
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
    if (!this.exited && !this.record.exitExpected) {
      // So that a server killed from here on does not report this exit as a crash.
      this.record.exitExpected = true;
      try {
        this.persist();
      } catch {
        /* the run dir is going away anyway */
      }
    }
    if (this.status !== 'stopping') {
      this.status = 'stopping';
      this.hooks.changed();
    }
    const gone = new Promise<void>((resolve) => {
      if (this.exited) resolve();
      else this.onExitOnce.push(resolve);
    });
    try {
      // A QEMU that does not answer gets the power cord at once rather than after another timeout.
      if (this.unresponsive) throw new Error('not responding');
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
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.unresponsive = null;
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
