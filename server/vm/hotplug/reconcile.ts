/**
 * After a server restart: make record.live agree with what QEMU has (QMP.md §9), because QMP does
 * not replay the events we missed. Reads query-hotpluggable-cpus, qom-list /machine/peripheral,
 * query-named-block-nodes, query-memory-devices / query-memory-size-summary and query-block, then:
 * - finishes an operation that was in flight (the write-ahead `intent`): adopts what QEMU ended up
 *   with into live AND the stored config (the user asked for it), or removes the leftovers;
 * - finishes pending unplugs whose device is gone (blockdev-del / netdev_del / object-del), and
 *   makes sure the stored config no longer has them;
 * - drops live devices QEMU no longer has, and deletes orphan block nodes of our naming scheme.
 * Returns the stored config to save (the same object if nothing changed there).
 */
import type { VmConfig } from '../../../lib/schemas/vm';
import { DEVICE_ID_RE } from '../../../lib/schemas/common';
import { diskNodeNames, netdevId } from '../../qemu/argv';
import { cdromGeneration, cdromInserted } from './cdrom';
import { bestEffort, type LiveCtx } from './context';
import { presentVcpus } from './cpu';
import { releasePort } from './ports';
import { finishUnplug, peripheralIds } from './unplug';

const MiB = 1024 * 1024;

export interface ReconcileReport {
  stored: VmConfig;
  /** Human-readable list of what was fixed (logged by the caller). */
  fixed: string[];
}

export async function reconcile(ctx: LiveCtx, storedIn: VmConfig): Promise<ReconcileReport> {
  const st = ctx.state;
  const live = ctx.record.live;
  const fixed: string[] = [];
  let stored = storedIn;
  const editStored = (f: (c: VmConfig) => VmConfig) => (stored = f(stored));

  const present = await peripheralIds(ctx);
  const nodes = new Set((await ctx.qmp.execute('query-named-block-nodes', { flat: true })).map((n) => n['node-name']));
  const delNode = async (node: string) => {
    if (!nodes.delete(node)) return;
    await bestEffort(ctx.qmp.execute('blockdev-del', { 'node-name': node }));
  };

  // vCPUs: the count QEMU has is the truth.
  const slots = await ctx.qmp.execute('query-hotpluggable-cpus');
  const vcpus = presentVcpus(slots);
  if (vcpus !== live.vcpus) fixed.push(`vcpus ${live.vcpus} → ${vcpus}`);
  live.vcpus = vcpus;
  const cpuPaths = new Set(slots.map((s) => s['qom-path']).filter(Boolean));
  for (const u of Object.values(st.unplugs)) {
    if (u.kind === 'cpu' && !cpuPaths.has(`/machine/peripheral/${u.id}`)) {
      delete st.unplugs[u.id];
      fixed.push(`vCPU ${u.id} unplug finished`);
    }
  }

  // Memory: base + plugged DIMMs.
  const mem = await ctx.qmp.execute('query-memory-size-summary');
  const devs = await ctx.qmp.execute('query-memory-devices');
  st.dimms = devs
    .filter((d) => d.type === 'dimm')
    .map((d) => {
      const data = d.data as { id?: string; memdev: string; size: number };
      return { id: data.id ?? '', backend: data.memdev.replace(/^\/objects\//, ''), sizeMiB: Math.round(data.size / MiB) };
    })
    .filter((d) => d.id);
  const memoryMiB = Math.round((mem['base-memory'] + (mem['plugged-memory'] ?? 0)) / MiB);
  if (memoryMiB !== live.memoryMiB) fixed.push(`memory ${live.memoryMiB} → ${memoryMiB} MiB`);
  live.memoryMiB = memoryMiB;

  // The operation in flight when the server went away.
  const intent = st.intent;
  if (intent) {
    switch (intent.op) {
      case 'attach-disk': {
        const d = intent.disk;
        if (present.has(d.id)) {
          if (!live.disks.some((x) => x.id === d.id)) live.disks.push(d);
          if (intent.port) st.ports[intent.port] = d.id;
          if (intent.scsiId !== null) st.scsiIds[d.id] = intent.scsiId;
          if (!stored.disks.some((x) => x.id === d.id)) editStored((c) => ({ ...c, disks: [...c.disks, d] }));
          fixed.push(`disk ${d.id} attach completed`);
        } else {
          const n = diskNodeNames(d.id);
          for (const node of [n.fmt, n.file]) await delNode(node);
          releasePort(st, d.id);
          delete st.scsiIds[d.id];
          fixed.push(`disk ${d.id} attach rolled back`);
        }
        break;
      }
      case 'attach-nic': {
        const n = intent.nic;
        if (present.has(n.id)) {
          if (!live.nics.some((x) => x.id === n.id)) live.nics.push(n);
          if (intent.port) st.ports[intent.port] = n.id;
          if (!stored.nics.some((x) => x.id === n.id)) editStored((c) => ({ ...c, nics: [...c.nics, n] }));
          fixed.push(`NIC ${n.id} attach completed`);
        } else {
          await bestEffort(ctx.qmp.execute('netdev_del', { id: netdevId(n.id) }));
          releasePort(st, n.id);
          fixed.push(`NIC ${n.id} attach rolled back`);
        }
        break;
      }
      case 'add-dimm':
        if (st.dimms.some((d) => d.id === intent.id)) {
          if (stored.memoryMiB < live.memoryMiB) editStored((c) => ({ ...c, memoryMiB: live.memoryMiB }));
          fixed.push(`DIMM ${intent.id} add completed`);
        } else {
          await bestEffort(ctx.qmp.execute('object-del', { id: intent.backend }));
          fixed.push(`DIMM ${intent.id} add rolled back`);
        }
        break;
      case 'vcpus':
        if (stored.vcpus < live.vcpus) editStored((c) => ({ ...c, vcpus: live.vcpus }));
        break;
      case 'cdrom':
        break; // read back from query-block below
    }
    st.intent = null;
  }

  // CD-ROM: what is inserted now.
  const inserted = await cdromInserted(ctx.qmp);
  if (intent?.op === 'cdrom') {
    if (inserted && inserted === intent.node) {
      live.cdrom = intent.volume;
      if (stored.cdrom !== intent.volume) editStored((c) => ({ ...c, cdrom: intent.volume }));
    } else if (!inserted && intent.volume === null) {
      if (stored.cdrom !== null) editStored((c) => ({ ...c, cdrom: null }));
    }
  }
  if (!inserted) live.cdrom = null;
  st.cdromNode = inserted;
  for (const node of nodes) {
    const gen = cdromGeneration(node);
    if (gen === null) continue;
    st.cdromGeneration = Math.max(st.cdromGeneration, gen);
    if (node !== inserted) await delNode(node);
  }

  // Disks and NICs: unplugs that finished while we were away, devices QEMU no longer has.
  for (const u of Object.values(st.unplugs)) {
    if (u.kind === 'cpu') continue;
    if (!present.has(u.id)) {
      await finishUnplug(ctx, u.id);
      for (const n of u.nodes) nodes.delete(n);
      fixed.push(`${u.kind} ${u.id} unplug finished`);
    }
    // Asked to go: the next boot must not bring it back, finished or not.
    if (u.kind === 'disk' && stored.disks.some((d) => d.id === u.id)) editStored((c) => ({ ...c, disks: c.disks.filter((d) => d.id !== u.id) }));
    if (u.kind === 'nic' && stored.nics.some((n) => n.id === u.id)) editStored((c) => ({ ...c, nics: c.nics.filter((n) => n.id !== u.id) }));
  }
  for (const d of [...live.disks]) {
    if (present.has(d.id)) continue;
    const n = diskNodeNames(d.id);
    for (const node of [n.fmt, n.file]) await delNode(node);
    live.disks = live.disks.filter((x) => x.id !== d.id);
    releasePort(st, d.id);
    delete st.scsiIds[d.id];
    fixed.push(`disk ${d.id} is gone from QEMU`);
  }
  for (const nic of [...live.nics]) {
    if (present.has(nic.id)) continue;
    await bestEffort(ctx.qmp.execute('netdev_del', { id: netdevId(nic.id) }));
    live.nics = live.nics.filter((x) => x.id !== nic.id);
    releasePort(st, nic.id);
    fixed.push(`NIC ${nic.id} is gone from QEMU`);
  }

  // Orphan nodes of our scheme (<disk id>-fmt / -file) that no live disk owns.
  const owned = new Set(live.disks.flatMap((d) => Object.values(diskNodeNames(d.id))));
  const orphans = [...nodes].filter((n) => {
    const m = /^(.+)-(fmt|file)$/.exec(n);
    return m && DEVICE_ID_RE.test(m[1]) && !owned.has(n) && !present.has(m[1]);
  });
  // Format nodes first: a protocol node is "in use" while its format node exists.
  for (const n of [...orphans.filter((x) => x.endsWith('-fmt')), ...orphans.filter((x) => x.endsWith('-file'))]) {
    await delNode(n);
    fixed.push(`orphan node ${n} deleted`);
  }

  ctx.persist();
  return { stored, fixed };
}
