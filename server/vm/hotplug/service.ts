/**
 * Hotplug as the API and the config editor see it: one entry point per request, each run under
 * the VM's lock (so hotplugs to one VM never interleave with each other or with lifecycle
 * actions), each one updating BOTH the stored config (what the next boot gets) and, for a
 * running VM, the live record (what QEMU has now), and answering live / pending (+ reason) /
 * unplug-pending / saved (VM off).
 *
 * Order inside every request: validate the new config as a whole (so a refused request changes
 * nothing), do the live part (which may refuse: 409/422, nothing saved), then save the config and
 * the reasons, persist live.json, and push the new snapshot on /ws/events.
 */
import { ApiError } from '../../../lib/errors';
import type { AttachDisk, AttachNic, DeviceInventory, HotplugResponse, VmStats } from '../../../lib/schemas/hotplug';
import { VmConfigSchema, type Disk, type Nic, type VmConfig } from '../../../lib/schemas/vm';
import { handVolumeToQemu } from '../../auth/qemu-user';
import { log } from '../../log';
import { DEFAULT_POOL, probeImage, splitRef } from '../../storage/pool';
import { checkConfig } from '../configs';
import { randomMac } from '../create';
import type { VmManager } from '../manager';
import { HARDWARE_FIELDS, type HardwareField } from '../pending';
import type { VmRuntime } from '../runtime';
import { setCdromLive } from './cdrom';
import { ensureState, errText, type LiveCtx, type LiveOutcome } from './context';
import { setVcpusLive } from './cpu';
import { attachDiskLive, detachDiskLive } from './disk';
import { memoryStats, setBalloonLive, setMemoryLive } from './memory';
import { attachNicLive, detachNicLive, setLinkLive } from './nic';
import { checkNewId, freePorts, nextId, takenIds } from './ports';
import { applyPatchLive } from './patch';
import { reconcile } from './reconcile';
import { settleUnplugs } from './unplug';
import { hotplugStateOf } from './view';

const MAX_DISKS = 16;
const MAX_NICS = 8;

interface OpResult {
  stored: VmConfig;
  outcome: LiveOutcome | null;
  field: HardwareField | null;
  device?: string;
}

export class HotplugService {
  private readonly settling = new Set<string>();

  constructor(
    private readonly m: VmManager,
    readonly unplugTimeoutMs = Number(process.env.VMM_UNPLUG_TIMEOUT_MS ?? 5000),
  ) {}

  // ---- plumbing -------------------------------------------------------------------------------

  /** The live context of a running VM, null if it is off. */
  liveCtx(id: string): LiveCtx | null {
    const rt = this.m.runtimes.get(id);
    if (!rt) return null;
    if (rt.status === 'starting' || rt.status === 'stopping') throw new ApiError('INVALID_STATE', `The VM is ${rt.status}; try again in a moment`);
    if (!rt.qmp?.connected) throw new ApiError('QMP_DISCONNECTED', 'Lost the connection to QEMU');
    return this.ctxOf(rt);
  }

  private ctxOf(rt: VmRuntime): LiveCtx {
    return {
      vmId: rt.vmId,
      qmp: rt.qmp!,
      record: rt.record,
      state: ensureState(rt.record),
      persist: () => rt.persist(),
      resolve: (ref) => this.m.pools.resolve(ref),
      grant: (file, mode) => handVolumeToQemu(file, mode),
      unplugTimeoutMs: this.unplugTimeoutMs,
    };
  }

  /** Validates a whole new config the way PATCH does; throws before anything changes. */
  validate(c: VmConfig, newVolumes?: Set<string>): VmConfig {
    const parsed = VmConfigSchema.safeParse(c);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ApiError('VALIDATION_FAILED', `${i.message} (${i.path.join('.')})`, { issues: parsed.error.issues.map((x) => ({ path: x.path, message: x.message })) });
    }
    checkConfig(this.m, parsed.data, { newVolumes });
    return parsed.data;
  }

  private op(id: string, fn: (stored: VmConfig, ctx: LiveCtx | null) => Promise<OpResult>): Promise<HotplugResponse> {
    this.m.require(id);
    return this.m.lock.run(id, async () => {
      const before = this.m.require(id);
      const ctx = this.liveCtx(id);
      const r = await fn(before, ctx);
      if (r.stored !== before) this.m.store.save(r.stored);
      if (ctx) {
        let changed = false;
        if (r.outcome?.result === 'pending' && r.field) {
          ctx.record.pendingReasons[r.field] = r.outcome.reason;
          if (r.device) ctx.state.reasons[r.device] = r.outcome.reason;
          changed = true;
        }
        // The live functions persisted what QEMU has; only new or dropped reasons need a write.
        if (this.tidyReasons(r.stored, ctx) || changed) ctx.persist();
      }
      this.m.announce(id);
      const outcome = r.outcome ?? { result: 'saved' as const };
      return {
        result: outcome.result,
        ...('reason' in outcome ? { reason: outcome.reason } : {}),
        ...(r.device ? { device: r.device } : {}),
        vm: this.m.view(id),
      };
    });
  }

  /**
   * Drops reasons that no longer explain anything (the field or device now agrees with QEMU).
   * Returns true if it dropped one; the caller persists.
   */
  tidyReasons(stored: VmConfig, ctx: LiveCtx): boolean {
    const live = ctx.record.live;
    let changed = false;
    for (const f of HARDWARE_FIELDS) {
      if (f in ctx.record.pendingReasons && JSON.stringify(stored[f]) === JSON.stringify(live[f])) {
        delete ctx.record.pendingReasons[f];
        changed = true;
      }
    }
    for (const id of Object.keys(ctx.state.reasons)) {
      const s = [...stored.disks, ...stored.nics].find((d) => d.id === id);
      const l = [...live.disks, ...live.nics].find((d) => d.id === id);
      if ((!s && !l) || (s && l && JSON.stringify({ ...s, linkUp: 0 }) === JSON.stringify({ ...l, linkUp: 0 }))) {
        delete ctx.state.reasons[id];
        changed = true;
      }
    }
    return changed;
  }

  // ---- vCPUs and memory -----------------------------------------------------------------------

  setVcpus(id: string, count: number): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (count > stored.maxVcpus) {
        throw new ApiError('HOTPLUG_LIMIT', `This VM can have at most ${stored.maxVcpus} vCPUs (max vCPUs); asked for ${count}`, { max: stored.maxVcpus });
      }
      const next = this.validate({ ...stored, vcpus: count });
      let outcome: LiveOutcome | null = null;
      if (ctx) {
        outcome =
          count > ctx.record.live.maxVcpus
            ? { result: 'pending', reason: `The running VM was started with at most ${ctx.record.live.maxVcpus} vCPUs; ${count} applies at next boot` }
            : await setVcpusLive(ctx, count);
      }
      return { stored: next, outcome, field: 'vcpus' };
    });
  }

  setMemory(id: string, sizeMiB: number): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (sizeMiB > stored.maxMemoryMiB) {
        throw new ApiError('HOTPLUG_LIMIT', `This VM can have at most ${stored.maxMemoryMiB} MiB (max memory); asked for ${sizeMiB} MiB`, { max: stored.maxMemoryMiB });
      }
      const next = this.validate({ ...stored, memoryMiB: sizeMiB, balloonMiB: stored.balloonMiB !== null && stored.balloonMiB > sizeMiB ? null : stored.balloonMiB });
      let outcome: LiveOutcome | null = null;
      if (ctx) {
        outcome =
          sizeMiB > ctx.record.live.maxMemoryMiB
            ? { result: 'pending', reason: `The running VM was started with at most ${ctx.record.live.maxMemoryMiB} MiB; ${sizeMiB} MiB applies at next boot` }
            : await setMemoryLive(ctx, sizeMiB);
      }
      return { stored: next, outcome, field: 'memoryMiB' };
    });
  }

  setBalloon(id: string, targetMiB: number | null): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (targetMiB !== null && targetMiB > stored.memoryMiB) {
        throw new ApiError('HOTPLUG_LIMIT', `The balloon target (${targetMiB} MiB) cannot exceed the VM's memory (${stored.memoryMiB} MiB)`, { max: stored.memoryMiB });
      }
      const next = this.validate({ ...stored, balloonMiB: targetMiB });
      const outcome = ctx ? await setBalloonLive(ctx, targetMiB) : null;
      return { stored: next, outcome, field: null };
    });
  }

  // ---- disks ----------------------------------------------------------------------------------

  attachDisk(id: string, req: AttachDisk): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (stored.disks.length >= MAX_DISKS) throw new ApiError('HOTPLUG_LIMIT', `A VM can have at most ${MAX_DISKS} disks`);
      const taken = takenIds(stored, ctx?.record.live ?? null, ctx?.state ?? null);
      const diskId = req.id ?? nextId('disk', taken);
      checkNewId(diskId, taken);
      const bus = req.bus ?? 'virtio';
      // Refuse before creating anything if the disk could not go anywhere.
      if (ctx && bus === 'virtio' && ctx.state.machine === 'q35' && freePorts(ctx.state).length === 0) {
        throw new ApiError('HOTPLUG_NO_SLOT', `No free PCIe root port: all ${Object.keys(ctx.state.ports).length} are in use. Detach a disk or NIC, or attach the disk on the SCSI bus`, { ports: ctx.state.ports });
      }
      let disk: Disk;
      let create: number | null = null;
      if ('sizeMiB' in req) {
        disk = { id: diskId, volume: this.newVolumeName(stored.name, diskId), format: 'qcow2', bus, cache: req.cache ?? 'writeback', readonly: false };
        create = req.sizeMiB;
      } else {
        const path = this.m.pools.requireVolume(req.volume);
        const users = [...stored.disks, ...(ctx?.record.live.disks ?? [])].filter((d) => d.volume === req.volume);
        if (users.length > 0 && !(req.readonly && users.every((d) => d.readonly))) {
          throw new ApiError('VOLUME_IN_USE', `Volume "${req.volume}" is already disk ${users[0].id} of this VM`);
        }
        const probed = probeImage(path, 0).format;
        disk = { id: diskId, volume: req.volume, format: req.format ?? (probed === 'qcow2' ? 'qcow2' : 'raw'), bus, cache: req.cache ?? 'writeback', readonly: req.readonly ?? false };
      }
      const next = this.validate({ ...stored, disks: [...stored.disks, disk] }, create !== null ? new Set([disk.volume]) : undefined);
      if (create !== null) {
        const { pool, file } = splitRef(disk.volume);
        await this.m.pools.createQcow2(pool, file, create);
      }
      try {
        const outcome = ctx ? await attachDiskLive(ctx, disk) : null;
        return { stored: next, outcome, field: 'disks', device: diskId };
      } catch (e) {
        if (create !== null) this.m.pools.remove(disk.volume);
        throw e;
      }
    });
  }

  detachDisk(id: string, diskId: string): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      const inStored = stored.disks.some((d) => d.id === diskId);
      const inLive = ctx?.record.live.disks.some((d) => d.id === diskId) ?? false;
      if (!inStored && !inLive) throw new ApiError('NOT_FOUND', `This VM has no disk "${diskId}"`);
      if (ctx?.state.unplugs[diskId]) throw new ApiError('UNPLUG_PENDING', `${diskId} is already being detached; waiting for the guest to release it`);
      const next = this.validate({ ...stored, disks: stored.disks.filter((d) => d.id !== diskId) });
      const outcome = ctx ? await detachDiskLive(ctx, diskId, true) : null;
      return { stored: next, outcome, field: 'disks', device: diskId };
    });
  }

  private newVolumeName(vmName: string, diskId: string): string {
    for (let n = 0; ; n++) {
      const ref = `${DEFAULT_POOL}/${vmName}-${diskId}${n ? `-${n}` : ''}.qcow2`;
      if (!this.m.pools.exists(ref)) return ref;
    }
  }

  // ---- NICs -----------------------------------------------------------------------------------

  attachNic(id: string, req: AttachNic): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (stored.nics.length >= MAX_NICS) throw new ApiError('HOTPLUG_LIMIT', `A VM can have at most ${MAX_NICS} NICs`);
      const live = ctx?.record.live ?? null;
      const taken = takenIds(stored, live, ctx?.state ?? null);
      const nicId = req.id ?? nextId('nic', taken);
      checkNewId(nicId, taken);
      const macs = new Set([...stored.nics, ...(live?.nics ?? [])].map((n) => n.mac));
      if (req.mac && macs.has(req.mac)) throw new ApiError('VALIDATION_FAILED', `MAC ${req.mac} is already used by this VM`);
      let mac = req.mac;
      while (!mac || macs.has(mac)) mac = randomMac();
      const nic: Nic = { id: nicId, model: req.model ?? 'virtio', mac, network: 'user', linkUp: req.linkUp ?? true };
      const next = this.validate({ ...stored, nics: [...stored.nics, nic] });
      const outcome = ctx ? await attachNicLive(ctx, nic) : null;
      return { stored: next, outcome, field: 'nics', device: nicId };
    });
  }

  detachNic(id: string, nicId: string): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      const inStored = stored.nics.some((n) => n.id === nicId);
      const inLive = ctx?.record.live.nics.some((n) => n.id === nicId) ?? false;
      if (!inStored && !inLive) throw new ApiError('NOT_FOUND', `This VM has no NIC "${nicId}"`);
      if (ctx?.state.unplugs[nicId]) throw new ApiError('UNPLUG_PENDING', `${nicId} is already being detached; waiting for the guest to release it`);
      const next = this.validate({ ...stored, nics: stored.nics.filter((n) => n.id !== nicId) });
      const outcome = ctx ? await detachNicLive(ctx, nicId) : null;
      return { stored: next, outcome, field: 'nics', device: nicId };
    });
  }

  setLink(id: string, nicId: string, up: boolean): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      const inStored = stored.nics.some((n) => n.id === nicId);
      const inLive = ctx?.record.live.nics.some((n) => n.id === nicId) ?? false;
      if (!inStored && !inLive) throw new ApiError('NOT_FOUND', `This VM has no NIC "${nicId}"`);
      const next = inStored ? this.validate({ ...stored, nics: stored.nics.map((n) => (n.id === nicId ? { ...n, linkUp: up } : n)) }) : stored;
      const outcome = ctx ? await setLinkLive(ctx, nicId, up) : null;
      return { stored: next, outcome, field: null, device: nicId };
    });
  }

  // ---- CD-ROM ---------------------------------------------------------------------------------

  setCdrom(id: string, volume: string | null): Promise<HotplugResponse> {
    return this.op(id, async (stored, ctx) => {
      if (volume !== null) this.m.pools.requireVolume(volume);
      const next = this.validate({ ...stored, cdrom: volume });
      const outcome = ctx ? await setCdromLive(ctx, volume) : null;
      return { stored: next, outcome, field: 'cdrom', device: 'cd0' };
    });
  }

  // ---- PATCH on a running VM ------------------------------------------------------------------

  /**
   * Called by patchVm (which holds the lock and has validated `next`): applies to the running VM
   * what can be applied live and records a reason for the rest. Never throws for a live failure:
   * the edit is saved either way, and what did not apply is pending with QEMU's reason.
   */
  async applyPatch(id: string, patch: Record<string, unknown>, next: VmConfig): Promise<void> {
    const rt = this.m.runtimes.get(id);
    if (!rt || !rt.qmp?.connected || rt.status === 'starting' || rt.status === 'stopping') return;
    const ctx = this.ctxOf(rt);
    await applyPatchLive(ctx, Object.keys(patch), next);
    this.tidyReasons(next, ctx);
    ctx.persist();
  }

  // ---- reading --------------------------------------------------------------------------------

  async stats(id: string): Promise<VmStats> {
    this.m.require(id);
    const rt = this.m.runtimes.get(id);
    if (!rt?.qmp?.connected) throw new ApiError('VM_NOT_RUNNING', 'The VM is not running');
    return memoryStats(rt.qmp, rt.record.live.balloonMiB);
  }

  async inventory(id: string): Promise<DeviceInventory> {
    this.m.require(id);
    const rt = this.m.runtimes.get(id);
    if (!rt?.qmp?.connected) throw new ApiError('VM_NOT_RUNNING', 'The VM is not running');
    const q = rt.qmp;
    const [peripheral, nodes, block, cpus, mem] = await Promise.all([
      q.execute('qom-list', { path: '/machine/peripheral' }),
      q.execute('query-named-block-nodes', { flat: true }),
      q.execute('query-block'),
      q.execute('query-hotpluggable-cpus'),
      q.execute('query-memory-devices'),
    ]);
    const st = hotplugStateOf(rt.record);
    return {
      peripheral: peripheral.filter((p) => p.type.startsWith('child<')).map((p) => ({ id: p.name, type: p.type.slice(6, -1) })),
      blockNodes: nodes.map((n) => ({ nodeName: n['node-name'], driver: n.drv, file: n.file, readOnly: n.ro })),
      block: block.map((b) => ({
        qdev: b.qdev ?? null,
        removable: b.removable,
        trayOpen: b.tray_open ?? null,
        inserted: b.inserted ? { nodeName: b.inserted['node-name'] ?? null, file: b.inserted.file } : null,
      })),
      cpus: cpus.map((c) => ({ coreId: c.props['core-id'] ?? null, type: c.type, qomPath: c['qom-path'] ?? null })),
      memoryDevices: mem.map((d) => {
        const data = d.data as { id?: string; size?: number };
        return { id: data.id ?? null, type: d.type, sizeMiB: (data.size ?? 0) / (1024 * 1024) };
      }),
      ports: st.ports,
      unplugs: Object.values(st.unplugs).map((u) => ({ id: u.id, kind: u.kind, since: u.since })),
    };
  }

  // ---- runtime hooks --------------------------------------------------------------------------

  /**
   * Listens for what can finish a pending unplug: the device's DEVICE_DELETED, a CPU's ACPI
   * status, the guest resuming. Events only trigger a re-read (settleUnplugs), under the lock.
   */
  watch(rt: VmRuntime): void {
    rt.qmp?.on('event', (ev) => {
      if (!['DEVICE_DELETED', 'ACPI_DEVICE_OST', 'RESUME', 'RESET'].includes(ev.event)) return;
      if (!rt.record.hotplug || Object.keys(rt.record.hotplug.unplugs).length === 0) return;
      if (this.settling.has(rt.vmId)) return;
      this.settling.add(rt.vmId);
      void this.m.lock
        .run(rt.vmId, async () => {
          this.settling.delete(rt.vmId);
          if (this.m.runtimes.get(rt.vmId) !== rt || !rt.qmp?.connected) return;
          const ctx = this.ctxOf(rt);
          if (await settleUnplugs(ctx)) {
            const stored = this.m.store.get(rt.vmId);
            if (stored && this.tidyReasons(stored, ctx)) ctx.persist();
            this.m.announce(rt.vmId);
          }
        })
        .catch((e: Error) => {
          this.settling.delete(rt.vmId);
          log.warn(`hotplug: settling unplugs of ${rt.vmId}: ${e.message}`);
        });
    });
  }

  /** After a server restart (VmManager.reattachAll): make live.json agree with QEMU. */
  async reconcile(id: string): Promise<void> {
    await this.m.lock.run(id, async () => {
      const rt = this.m.runtimes.get(id);
      const stored = this.m.store.get(id);
      if (!rt?.qmp?.connected || !stored) return;
      const ctx = this.ctxOf(rt);
      const { stored: next, fixed } = await reconcile(ctx, stored);
      if (next !== stored) {
        try {
          this.m.store.save(this.validate(next));
        } catch (e) {
          log.warn(`hotplug: reconcile of ${id} could not update the config: ${errText(e)}`);
        }
      }
      this.tidyReasons(this.m.store.get(id) ?? stored, ctx);
      ctx.persist();
      if (fixed.length) log.info(`hotplug: reconciled ${stored.name}: ${fixed.join('; ')}`);
    });
  }
}
