/**
 * The control plane: every VM's config and, for running ones, its QEMU runtime. Lifecycle
 * operations on one VM are serialised by a per-VM lock; changes are announced as whole snapshots
 * through the 'vm' / 'vm-deleted' / 'notice' events, which /ws/events fans out.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { ApiError } from '../../lib/errors';
import type { LifecycleAction, VmConfig, VmState, VmView } from '../../lib/schemas/vm';
import type { ServerConfig } from '../config';
import { buildArgv, startupCommands } from '../qemu/argv';
import { confineVmForQemu, qemuIdentity, qemuVolumes, reclaimRunDir } from '../auth/qemu-user';
import type { HostService } from '../qemu/host';
import { runPaths, type RunPaths } from '../qemu/paths';
import { cleanRunDir, connectWhenReady, cpuTicks, isAlive, logTail, pidBelongsTo, prepareRunDir, readPidfile, spawnQemu } from '../qemu/process';
import type { SerialHub } from '../serial/hub';
import type { StoragePools } from '../storage/pool';
import type { VmStore } from '../store/vmstore';
import { ensureDir, removeStaleTempFiles, writeJsonAtomic } from '../store/atomic';
import { KeyedLock } from './lock';
import { HotplugService } from './hotplug/service';
import { deviceStates, liveSummary } from './hotplug/view';
import { log } from '../log';
import { liveHardware, pendingChanges } from './pending';
import { readLiveRecord, VmRuntime, type LiveRecord } from './runtime';

interface CrashRecord {
  reason: string;
  at: string;
}

/** Which actions make sense in which state; anything else is a 409 with a message. */
const ALLOWED: Record<LifecycleAction, VmState[]> = {
  start: ['shutoff', 'crashed'],
  shutdown: ['running', 'shutting-down'],
  poweroff: ['running', 'paused', 'shutting-down', 'starting', 'stopping'],
  reboot: ['running'],
  reset: ['running', 'paused', 'shutting-down'],
  pause: ['running'],
  resume: ['paused'],
};

export class VmManager extends EventEmitter {
  readonly runtimes = new Map<string, VmRuntime>();
  private readonly crashes = new Map<string, CrashRecord>();
  readonly lock = new KeyedLock();
  /** VMs to start again once they reach shutoff (reboot = ACPI shutdown + start, like Proxmox). */
  private readonly restartAfterShutdown = new Set<string>();
  /** Live changes to running VMs (vCPUs, memory, disks, NICs, CD-ROM): server/vm/hotplug. */
  readonly hotplug: HotplugService;

  constructor(
    readonly cfg: ServerConfig,
    readonly store: VmStore,
    readonly pools: StoragePools,
    readonly host: HostService,
    readonly serial: SerialHub,
  ) {
    super();
    this.hotplug = new HotplugService(this);
  }

  paths(id: string): RunPaths {
    return runPaths(this.cfg.runDir, id);
  }

  // ---- views --------------------------------------------------------------------------------

  state(id: string): VmState {
    const rt = this.runtimes.get(id);
    if (rt) return rt.status;
    return this.crashes.has(id) ? 'crashed' : 'shutoff';
  }

  view(id: string): VmView {
    const c = this.require(id);
    const rt = this.runtimes.get(id);
    const crash = this.crashes.get(id);
    return {
      ...c,
      state: this.state(id),
      stateReason: rt ? this.runningReason(c, rt) : (crash?.reason ?? null),
      shutdownIgnored: rt?.shutdownIgnored ?? false,
      pending: rt ? pendingChanges(c, rt.record.live, rt.record.pendingReasons) : [],
      runtime: rt ? { pid: rt.pid, startedAt: rt.record.startedAt, accel: rt.record.accel, argv: rt.record.argv, cpuPercent: rt.cpuPercent } : null,
      ...(rt ? { devices: deviceStates(c, rt.record), live: liveSummary(rt.record) } : {}),
    } as VmView;
  }

  /** What is worth saying about a running VM: a hung QEMU first, then an ignored shutdown, then vanished images. */
  private runningReason(c: VmConfig, rt: VmRuntime): string | null {
    if (rt.unresponsive) {
      return `QEMU is not responding (${rt.unresponsive.why}, since ${rt.unresponsive.since}); commands fail with QMP_TIMEOUT until it answers again. Force power-off still works`;
    }
    if (rt.shutdownIgnored) return 'The guest has not acted on the ACPI shutdown request; you can force it off';
    // An image deleted under a running VM: QEMU keeps its open file, but the VM cannot start again.
    const gone: string[] = [];
    for (const d of rt.record.live.disks) {
      try {
        if (!fs.existsSync(this.pools.resolve(d.volume))) gone.push(d.volume);
      } catch {
        /* not resolvable: not ours to judge here */
      }
    }
    if (gone.length) {
      return `The image of ${gone.map((v) => `"${v}"`).join(', ')} was deleted while the VM runs; QEMU still holds it open, but its data is lost when QEMU exits and the VM will not start again until the volume exists`;
    }
    return null;
  }

  views(): VmView[] {
    return this.store.all().map((c) => this.view(c.id));
  }

  require(id: string): VmConfig {
    const c = this.store.get(id);
    if (!c) throw new ApiError('VM_NOT_FOUND', 'No such VM');
    return c;
  }

  announce(id: string): void {
    if (this.store.get(id)) this.emit('vm', this.view(id));
  }

  notice(vmId: string | null, level: 'info' | 'error', code: string, message: string): void {
    this.emit('notice', { vmId, level, code, message });
  }

  // ---- startup: reattach running QEMUs --------------------------------------------------------

  /** Finds every QEMU a previous server left running and reattaches it. */
  async reattachAll(): Promise<{ reattached: string[]; crashed: string[] }> {
    ensureDir(this.cfg.runDir, 0o700);
    const reattached: string[] = [];
    const crashed: string[] = [];
    /** VMs whose QEMU was asked to quit before the previous server died: an exit there is a power-off. */
    const stoppedOnPurpose = new Set<string>();
    await Promise.all(
      this.store.all().map(async (c) => {
        const p = this.paths(c.id);
        // Half-written live.json / crash.json of a server killed mid-write, and screendumps in flight.
        if (fs.existsSync(p.dir)) {
          removeStaleTempFiles(p.dir);
          for (const f of fs.readdirSync(p.dir)) if (/^screen-\d+\.png$/.test(f)) fs.rmSync(`${p.dir}/${f}`, { force: true });
        }
        const crashFile = `${p.dir}/crash.json`;
        if (fs.existsSync(crashFile)) {
          try {
            this.crashes.set(c.id, JSON.parse(fs.readFileSync(crashFile, 'utf8')) as CrashRecord);
          } catch {
            this.crashes.set(c.id, { reason: 'QEMU crashed', at: new Date().toISOString() });
          }
        }
        const record = readLiveRecord(p);
        if (!record) return;
        const pid = readPidfile(p) ?? record.pid;
        if (!isAlive(pid) || !pidBelongsTo(pid, c.id)) {
          if (record.exitExpected) {
            // We had asked it to quit (power-off, guest shutdown) and the server died before it saw the exit.
            cleanRunDir(p, false);
            stoppedOnPurpose.add(c.id);
            return;
          }
          this.recordCrash(c.id, VmRuntime.deadOnArrival(p));
          cleanRunDir(p, true);
          crashed.push(c.id);
          return;
        }
        try {
          const qmp = await connectWhenReady(p, pid, 5000);
          // A power-off that never reached QEMU: it is running, and a later exit would be a crash again.
          const { exitExpected: _e, ...rec } = record;
          const rt = this.makeRuntime(c.id, p, { ...rec, pid });
          rt.attach(qmp);
          this.runtimes.set(c.id, rt);
          this.serial.attach(c.id, p.serial);
          if (record.booting) {
            // The server died while starting this VM: QEMU waits in -S. Finish what the user asked for.
            await this.finishBoot(c.id, rt, { ...c, ...record.live });
            log.info(`finished starting ${c.name} (the previous server stopped half-way)`);
          }
          await rt.refresh();
          this.hotplug.watch(rt);
          // Events missed while we were away are not replayed: re-read the hardware (QMP.md §9).
          await this.hotplug.reconcile(c.id).catch((e: Error) => log.warn(`hotplug: reconciling ${c.name} failed: ${e.message}`));
          reattached.push(c.id);
        } catch (e) {
          // Alive but not answering: kill it rather than risk it running twice (libvirt does the same).
          this.runtimes.get(c.id)?.detach();
          this.runtimes.delete(c.id);
          this.serial.detach(c.id);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          if (record.exitExpected) {
            // It was on its way out (a power-off the previous server had sent): finish that.
            cleanRunDir(p, false);
            stoppedOnPurpose.add(c.id);
            return;
          }
          this.recordCrash(c.id, `Could not reattach to QEMU (${(e as Error).message}); it was stopped`);
          cleanRunDir(p, true);
          crashed.push(c.id);
        }
      }),
    );
    this.killOrphans();
    this.killStrays(crashed, stoppedOnPurpose);
    return { reattached, crashed };
  }

  /**
   * QEMUs of this run dir that nobody reattached, found by their command line rather than by our
   * files: e.g. one spawned a moment before a crash, before live.json was written. Its VM (if it
   * still exists) is reported as crashed with the reason; nothing else would ever stop it.
   */
  private killStrays(crashed: string[], stoppedOnPurpose: Set<string>): void {
    for (const { pid, uuid } of qemusUnder(this.cfg.runDir)) {
      if (this.runtimes.get(uuid)?.pid === pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
      if (crashed.includes(uuid) || stoppedOnPurpose.has(uuid)) continue; // already handled by reattachAll
      log.warn(`stopped QEMU ${pid} of ${this.store.get(uuid)?.name ?? uuid}: it was not attached to any VM`);
      if (this.store.get(uuid) && !this.runtimes.has(uuid)) {
        this.recordCrash(uuid, 'The server stopped while this VM was starting; the half-started QEMU was stopped before the guest ran. Start it again');
        cleanRunDir(this.paths(uuid), true);
        if (!crashed.includes(uuid)) crashed.push(uuid);
      }
    }
  }

  /** QEMUs whose VM config no longer exists: nobody can manage them, so they are stopped. */
  private killOrphans(): void {
    if (!fs.existsSync(this.cfg.runDir)) return;
    for (const name of fs.readdirSync(this.cfg.runDir)) {
      if (this.store.get(name)) continue;
      const p = this.paths(name);
      const pid = readPidfile(p);
      if (pid && isAlive(pid) && pidBelongsTo(pid, name)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      fs.rmSync(p.dir, { recursive: true, force: true });
    }
  }

  private makeRuntime(id: string, p: RunPaths, record: LiveRecord): VmRuntime {
    const rt: VmRuntime = new VmRuntime(id, p, record, {
      changed: () => this.announce(id),
      recovered: () => {
        // Commands that timed out may have run late: re-read what QEMU has (as after a restart).
        log.warn(`QEMU of ${this.store.get(id)?.name ?? id} answers again`);
        void this.hotplug.reconcile(id).then(() => this.announce(id), (e: Error) => log.warn(`hotplug: reconciling ${id} after a hang failed: ${e.message}`));
      },
      exited: ({ crashed, reason }) => {
        if (this.runtimes.get(id) === rt) this.runtimes.delete(id);
        this.serial.detach(id);
        if (crashed) {
          this.recordCrash(id, reason ?? 'QEMU exited unexpectedly');
          this.notice(id, 'error', 'VM_CRASHED', `${this.store.get(id)?.name ?? id} crashed`);
        }
        this.announce(id);
        if (!crashed && this.restartAfterShutdown.delete(id)) {
          void this.action(id, 'start').catch((e: Error) => this.notice(id, 'error', 'REBOOT_FAILED', `Restart failed: ${e.message}`));
        }
      },
    });
    return rt;
  }

  private recordCrash(id: string, reason: string): void {
    const rec = { reason, at: new Date().toISOString() };
    this.crashes.set(id, rec);
    const p = this.paths(id);
    try {
      ensureDir(p.dir, 0o700);
      writeJsonAtomic(`${p.dir}/crash.json`, rec);
    } catch {
      /* the in-memory record still shows it */
    }
  }

  private clearCrash(id: string): void {
    this.crashes.delete(id);
    fs.rmSync(`${this.paths(id).dir}/crash.json`, { force: true });
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  action(id: string, action: LifecycleAction): Promise<VmView> {
    this.require(id);
    return this.lock.run(id, async () => {
      const state = this.state(id);
      if (!ALLOWED[action].includes(state)) {
        throw new ApiError('INVALID_STATE', `Cannot ${action} a VM that is ${state}`, { state, action });
      }
      const rt = this.runtimes.get(id);
      switch (action) {
        case 'start':
          await this.start(id);
          break;
        case 'shutdown':
          await rt!.requestShutdown(this.cfg.shutdownTimeoutMs);
          break;
        case 'poweroff':
          this.restartAfterShutdown.delete(id);
          await rt!.quit();
          break;
        case 'reboot':
          this.restartAfterShutdown.add(id);
          await rt!.requestShutdown(this.cfg.shutdownTimeoutMs);
          break;
        case 'reset':
          await rt!.qmp!.execute('system_reset');
          break;
        case 'pause':
          await rt!.qmp!.execute('stop');
          await rt!.refresh();
          break;
        case 'resume':
          await rt!.qmp!.execute('cont');
          await rt!.refresh();
          break;
      }
      return this.view(id);
    });
  }

  private async start(id: string): Promise<void> {
    const c = this.require(id);
    for (const d of c.disks) this.pools.requireVolume(d.volume);
    if (c.cdrom) this.pools.requireVolume(c.cdrom);
    if (c.kernel) {
      this.pools.requireVolume(c.kernel.kernel);
      if (c.kernel.initrd) this.pools.requireVolume(c.kernel.initrd);
    }
    const p = this.paths(id);
    const accel = this.host.accel.chosen;
    // Started paused (-S) so that what argv cannot say (link state, balloon) is set before the guest runs.
    // As root, QEMU is started as an unprivileged user (null when the server is not root). It is
    // exec'd as that user rather than using -runas, so the sandbox keeps elevateprivileges=deny.
    const qemuUser = qemuIdentity();
    const argv = buildArgv(c, { paths: p, accel, resolveVolume: (ref: string) => this.pools.resolve(ref), qemuBinary: this.cfg.qemuBinary, runAs: null, startPaused: true });
    if (qemuUser) reclaimRunDir(p.dir);
    this.clearCrash(id);
    prepareRunDir(p);
    if (qemuUser) {
      const volumes = qemuVolumes(c, (ref) => this.pools.resolve(ref));
      confineVmForQemu(qemuUser, { dirs: [this.cfg.dataDir, this.cfg.runDir, this.cfg.poolsDir], runDir: p.dir, volumes });
    }
    const pid = spawnQemu(argv, p, qemuUser);
    const rt = this.makeRuntime(id, p, { pid, startedAt: new Date().toISOString(), accel, argv, live: liveHardware(c), pendingReasons: {}, booting: true });
    this.runtimes.set(id, rt);
    this.announce(id);
    try {
      rt.persist();
      const qmp = await connectWhenReady(p, pid);
      rt.attach(qmp);
      this.hotplug.watch(rt);
      this.serial.attach(id, p.serial);
      await this.finishBoot(id, rt, c);
      await rt.refresh();
    } catch (e) {
      this.runtimes.delete(id);
      rt.detach(); // its exit is this failure, not a crash to report on top
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      cleanRunDir(p, true);
      const reason = e instanceof ApiError ? e.message : `QEMU failed to start: ${logTail(p, 600)}`;
      this.recordCrash(id, reason);
      this.announce(id);
      throw e instanceof ApiError ? e : new ApiError('QEMU_FAILED', reason);
    }
  }

  /** QEMU waits in -S: start-up commands (link state, balloon), then `cont`; live.json stops saying "booting". */
  private async finishBoot(id: string, rt: VmRuntime, c: VmConfig): Promise<void> {
    const qmp = rt.qmp!;
    // QEMU drops serial output nobody reads: let the reader connect before the guest runs.
    for (let i = 0; i < 100 && !this.serial.isConnected(id); i++) await new Promise((r) => setTimeout(r, 10));
    for (const cmd of startupCommands(c)) await qmp.execute(cmd.command, cmd.args as never);
    await qmp.execute('cont');
    delete rt.record.booting;
    rt.persist();
  }

  /** Samples CPU usage of every running VM (only while someone watches, to keep idle cost near zero). */
  sampleCpu(): void {
    for (const [id, rt] of this.runtimes) {
      const before = rt.cpuPercent;
      rt.checkStopped();
      rt.sampleCpu(cpuTicks(rt.pid));
      if (rt.cpuPercent !== before) this.announce(id);
    }
  }

  /** After a delete: the crash record and any run-dir leftovers go too. */
  forgetRuntimeFiles(id: string): void {
    this.crashes.delete(id);
    fs.rmSync(this.paths(id).dir, { recursive: true, force: true });
  }

  /** Counters for leak hunting (GET /api/host/diagnostics, admins only): QMP backlog per VM, busy locks. */
  diagnostics(): { runtimes: number; qmpPending: number; qmpPendingMax: number; unresponsive: number; busyLocks: number } {
    let pending = 0;
    let max = 0;
    let unresponsive = 0;
    for (const rt of this.runtimes.values()) {
      pending += rt.qmpPending;
      max = Math.max(max, rt.qmpPending);
      if (rt.unresponsive) unresponsive++;
    }
    return { runtimes: this.runtimes.size, qmpPending: pending, qmpPendingMax: max, unresponsive, busyLocks: this.busyLocks().length };
  }

  /** Keys (VM ids, 'create') whose lock is held or queued: operations still in progress. */
  busyLocks(): string[] {
    return ['create', ...this.store.all().map((c) => c.id)].filter((k) => this.lock.busy(k));
  }

  async stopAllForTests(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((rt) => rt.quit().catch(() => {})));
  }
}

/**
 * QEMUs whose -pidfile lies under `runDir` (so: started by a server with this data dir, not some
 * other QEMU on the host), with the uuid from their command line. Zombies are skipped.
 */
export function qemusUnder(runDir: string): { pid: number; uuid: string }[] {
  const out: { pid: number; uuid: string }[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!/qemu-system-|\/kvm$|^kvm$/.test(args[0] ?? '')) continue;
    const u = args.indexOf('-uuid');
    const pf = args.indexOf('-pidfile');
    if (u < 0 || pf < 0 || !(args[pf + 1] ?? '').startsWith(`${runDir}/`)) continue;
    const pid = Number(name);
    if (isAlive(pid)) out.push({ pid, uuid: args[u + 1] });
  }
  return out;
}
