/**
 * Creating, editing and deleting VM configs. Every change is checked as a whole (schema, unique
 * name, volumes that exist inside a pool and are not another VM's disk, memory within the host)
 * before anything is written, so a refused request changes nothing on disk.
 */
import crypto from 'node:crypto';
import type { z } from 'zod';
import { ApiError } from '../../lib/errors';
import { VmConfigSchema, type CreateVmSchema, type PatchVm, type VmConfig, type VmView } from '../../lib/schemas/vm';
import { buildArgv } from '../qemu/argv';
import { memoryMiB } from '../qemu/host';
import { runPaths } from '../qemu/paths';
import { DEFAULT_POOL, splitRef } from '../storage/pool';
import { planVm } from './create';
import type { VmManager } from './manager';

type CreateVmInput = z.output<typeof CreateVmSchema>;

/** Checks that need the world outside the config: host limits, volumes, names. */
export function checkConfig(m: VmManager, c: VmConfig, opts: { newVolumes?: Set<string> } = {}): void {
  const host = memoryMiB();
  if (c.memoryMiB > host.totalMiB) {
    throw new ApiError('RESOURCE_LIMIT', `Memory (${c.memoryMiB} MiB) is more than the host has (${host.totalMiB} MiB)`, { issues: [{ path: ['memoryMiB'], message: `At most ${host.totalMiB} MiB on this host` }] });
  }
  if (c.maxMemoryMiB > host.totalMiB * 4) {
    throw new ApiError('RESOURCE_LIMIT', `Max memory (${c.maxMemoryMiB} MiB) is far beyond the host's ${host.totalMiB} MiB`, { issues: [{ path: ['maxMemoryMiB'], message: `At most ${host.totalMiB * 4} MiB on this host` }] });
  }
  // What only the argv builder knows (SATA slots per machine, read-only SATA, the guest address
  // space): ask it now with placeholder paths, so a config QEMU would refuse is refused at save
  // time with a 4xx instead of failing at the next start.
  try {
    buildArgv(c, { paths: runPaths('/nonexistent', c.id), accel: 'tcg', resolveVolume: (ref: string) => `/nonexistent/${ref}` });
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) throw e;
    throw new ApiError('VALIDATION_FAILED', `QEMU could not run this configuration: ${(e as Error).message}`);
  }
  const other = m.store.byName(c.name);
  if (other && other.id !== c.id) throw new ApiError('NAME_TAKEN', `A VM named "${c.name}" already exists`, { issues: [{ path: ['name'], message: 'This name is taken' }] });
  const refs = [...c.disks.map((d) => d.volume), ...(c.cdrom ? [c.cdrom] : []), ...(c.kernel ? [c.kernel.kernel, ...(c.kernel.initrd ? [c.kernel.initrd] : [])] : [])];
  for (const ref of refs) {
    if (opts.newVolumes?.has(ref)) continue;
    m.pools.requireVolume(ref);
  }
  for (const d of c.disks) {
    if (d.readonly) continue;
    const owner = m.store.all().find((o) => o.id !== c.id && o.disks.some((x) => x.volume === d.volume && !x.readonly));
    if (owner) throw new ApiError('VOLUME_IN_USE', `Volume "${d.volume}" is already a disk of VM "${owner.name}"`);
  }
}

export function volumeUsers(m: VmManager, ref: string): string[] {
  return m.store
    .all()
    .filter((c) => {
      // A running QEMU may still hold a volume the config no longer names (a detach waiting for the guest).
      const live = m.runtimes.get(c.id)?.record.live;
      return (
        c.disks.some((d) => d.volume === ref) || c.cdrom === ref || c.kernel?.kernel === ref || c.kernel?.initrd === ref ||
        !!live?.disks.some((d) => d.volume === ref) || live?.cdrom === ref
      );
    })
    .map((c) => c.id);
}

const createLock = 'create';

export async function createVm(m: VmManager, req: CreateVmInput): Promise<{ view: VmView; startError: ApiError | null }> {
  const created = await m.lock.run(createLock, async () => {
    const id = crypto.randomUUID();
    const taken = new Set<string>();
    const { config, disks } = planVm(req, {
      id,
      now: new Date().toISOString(),
      hostCpus: (await m.host.info()).cpus,
      hostMemMiB: memoryMiB().totalMiB,
      volumeNameFor: (i) => {
        let n = 0;
        for (;;) {
          const ref = `${DEFAULT_POOL}/${req.name}-disk${i}${n ? `-${n}` : ''}.qcow2`;
          if (!taken.has(ref) && !m.pools.exists(ref)) {
            taken.add(ref);
            return ref;
          }
          n++;
        }
      },
    });
    const parsed = VmConfigSchema.safeParse(config);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ApiError('VALIDATION_FAILED', `${i.message} (body.${i.path.join('.')})`, { issues: parsed.error.issues.map((x) => ({ path: x.path, message: x.message })) });
    }
    checkConfig(m, parsed.data, { newVolumes: taken });
    const made: string[] = [];
    try {
      for (const d of disks) {
        if (d.createMiB === null) continue;
        const { pool, file } = splitRef(d.disk.volume);
        made.push(await m.pools.createQcow2(pool, file, d.createMiB));
      }
      m.store.save(parsed.data);
    } catch (e) {
      for (const ref of made) m.pools.remove(ref);
      throw e;
    }
    return parsed.data;
  });
  m.announce(created.id);
  let startError: ApiError | null = null;
  if (req.start) {
    try {
      await m.action(created.id, 'start');
    } catch (e) {
      startError = e instanceof ApiError ? e : new ApiError('QEMU_FAILED', (e as Error).message);
    }
  }
  return { view: m.view(created.id), startError };
}

export function patchVm(m: VmManager, id: string, patch: PatchVm): Promise<VmView> {
  m.require(id);
  return m.lock.run(id, async () => {
    const current = m.require(id);
    const merged = { ...current, ...patch };
    const parsed = VmConfigSchema.safeParse(merged);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ApiError('VALIDATION_FAILED', `${i.message} (body.${i.path.join('.')})`, { issues: parsed.error.issues.map((x) => ({ path: x.path, message: x.message })) });
    }
    checkConfig(m, parsed.data);
    // A running VM gets what can be applied live now (hotplug); the rest is pending with a reason.
    await m.hotplug.applyPatch(id, patch, parsed.data);
    m.store.save(parsed.data);
    m.announce(id);
    return m.view(id);
  });
}

export function deleteVm(m: VmManager, id: string, deleteDisks: boolean): Promise<void> {
  m.require(id);
  return m.lock.run(id, async () => {
    const c = m.require(id);
    if (m.runtimes.has(id)) throw new ApiError('VM_RUNNING', `Stop "${c.name}" before deleting it`);
    m.store.delete(id);
    if (deleteDisks) {
      for (const d of c.disks) {
        // A volume that another VM also uses (read-only) stays.
        if (volumeUsers(m, d.volume).length === 0 && m.pools.exists(d.volume)) m.pools.remove(d.volume);
      }
    }
    m.serial.forget(id);
    m.forgetRuntimeFiles(id);
    m.emit('vm-deleted', id);
  });
}
