/**
 * CD-ROM media (QMP.md §4.4), with our own node names rather than blockdev-change-medium's
 * auto-named `#blockNNN` (pitfall 16): every medium gets a fresh generation (`cd0-media<N>`),
 * because the old node still exists until it is deleted.
 *
 * Change: blockdev-add the new medium FIRST (a missing or unreadable file then fails before the
 * guest loses its current medium), then open-tray (force: a guest may have locked it), remove the
 * old medium, insert the new one, close the tray, and delete the old node. Eject: open, remove,
 * close (an empty drive with a closed tray, as after a cold boot without medium), delete.
 * If a step after the removal fails, the old medium is put back.
 */
import type { BlockInfo } from '../../qemu/qmp/types';
import { CDROM_ID, cdromBlockdev, cdromMediaNode } from '../../qemu/argv';
import type { BlockdevOptions } from '../../qemu/qmp/types';
import { bestEffort, hotplugError, LIVE, type LiveCtx, type LiveOutcome, type QmpLike } from './context';

/** True for query-block's entry of our cd0 (qdev is the id, or a path ending in it). */
export function isCdrom(b: BlockInfo): boolean {
  const q = b.qdev ?? '';
  return q === CDROM_ID || q === `/machine/peripheral/${CDROM_ID}` || q.startsWith(`/machine/peripheral/${CDROM_ID}/`);
}

export async function cdromInserted(qmp: QmpLike): Promise<string | null> {
  const blk = (await qmp.execute('query-block')).find(isCdrom);
  return blk?.inserted?.['node-name'] ?? null;
}

/** cd0-media → 0, cd0-media7 → 7, anything else → null. */
export function cdromGeneration(node: string): number | null {
  const m = new RegExp(`^${CDROM_ID}-media(\\d*)$`).exec(node);
  return m ? (m[1] ? Number(m[1]) : 0) : null;
}

export async function setCdromLive(ctx: LiveCtx, volume: string | null): Promise<LiveOutcome> {
  const st = ctx.state;
  const live = ctx.record.live;
  const old = await cdromInserted(ctx.qmp);
  if (volume !== null && volume === live.cdrom && old !== null) return LIVE;
  if (volume === null && old === null) {
    live.cdrom = null;
    st.cdromNode = null;
    ctx.persist();
    return LIVE;
  }
  let node: string | null = null;
  if (volume !== null) {
    const filename = ctx.resolve(volume);
    ctx.grant(filename, 'ro');
    const gen = st.cdromGeneration + 1;
    node = cdromMediaNode(gen);
    st.cdromGeneration = gen;
    st.intent = { op: 'cdrom', volume, node, oldNode: old };
    ctx.persist();
    try {
      await ctx.qmp.execute('blockdev-add', cdromBlockdev(filename, gen) as BlockdevOptions);
    } catch (e) {
      st.intent = null;
      ctx.persist();
      throw hotplugError(e, `Could not open ${volume}`);
    }
  } else {
    st.intent = { op: 'cdrom', volume: null, node: null, oldNode: old };
    ctx.persist();
  }
  let removed = false;
  let inserted = false;
  try {
    await ctx.qmp.execute('blockdev-open-tray', { id: CDROM_ID, force: true });
    if (old) {
      await ctx.qmp.execute('blockdev-remove-medium', { id: CDROM_ID });
      removed = true;
    }
    if (node) {
      await ctx.qmp.execute('blockdev-insert-medium', { id: CDROM_ID, 'node-name': node });
      inserted = true;
    }
    await ctx.qmp.execute('blockdev-close-tray', { id: CDROM_ID });
    if (old) await bestEffort(ctx.qmp.execute('blockdev-del', { 'node-name': old }));
    st.cdromNode = node;
    live.cdrom = volume;
  } catch (e) {
    if (node && !inserted) await bestEffort(ctx.qmp.execute('blockdev-del', { 'node-name': node }));
    if (old && removed && !inserted) await bestEffort(ctx.qmp.execute('blockdev-insert-medium', { id: CDROM_ID, 'node-name': old }));
    await bestEffort(ctx.qmp.execute('blockdev-close-tray', { id: CDROM_ID }));
    throw hotplugError(e, volume ? `Could not insert ${volume}` : 'Could not eject the medium');
  } finally {
    st.intent = null;
    ctx.persist();
  }
  return LIVE;
}
