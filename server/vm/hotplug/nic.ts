/**
 * NIC hotplug (QMP.md §5): netdev_add (user) + device_add virtio-net-pci / e1000 on a free root
 * port (q35) or pci.0 (pc), with the same ids the argv builder uses (`<nic>` and `<nic>-net`).
 * Detach: device_del, wait for DEVICE_DELETED, THEN netdev_del (unplug.ts); netdev_del first
 * would silently leave a dead NIC in the guest (pitfall 8). Link state: set_link.
 */
import { ApiError } from '../../../lib/errors';
import type { Nic } from '../../../lib/schemas/vm';
import { netdevId, netdevOptions, nicDeviceProps } from '../../qemu/argv';
import { bestEffort, hotplugError, LIVE, type LiveCtx, type LiveOutcome } from './context';
import { releasePort, takePort } from './ports';
import { unplugDevice } from './unplug';

export const NIC_CHANGE_REASON = 'Changing an attached NIC (model, MAC) applies at next boot';

export async function attachNicLive(ctx: LiveCtx, nic: Nic): Promise<LiveOutcome> {
  const st = ctx.state;
  const live = ctx.record.live;
  if (live.nics.some((n) => n.id === nic.id) || st.unplugs[nic.id]) {
    throw new ApiError('INVALID_STATE', `The running VM already has a device "${nic.id}"`);
  }
  const p = takePort(st, nic.id);
  st.intent = { op: 'attach-nic', nic, port: p.port };
  ctx.persist();
  let netdev = false;
  try {
    await ctx.qmp.execute('netdev_add', netdevOptions(nic));
    netdev = true;
    await ctx.qmp.execute('device_add', nicDeviceProps(nic, { bus: p.bus }));
    live.nics.push({ ...nic, linkUp: true });
  } catch (e) {
    if (netdev) await bestEffort(ctx.qmp.execute('netdev_del', { id: netdevId(nic.id) }));
    releasePort(st, nic.id);
    throw hotplugError(e, `Could not attach NIC ${nic.id}`);
  } finally {
    st.intent = null;
    ctx.persist();
  }
  if (!nic.linkUp) await setLinkLive(ctx, nic.id, false);
  return LIVE;
}

export async function detachNicLive(ctx: LiveCtx, id: string): Promise<LiveOutcome> {
  if (!ctx.record.live.nics.some((n) => n.id === id)) return LIVE;
  return unplugDevice(ctx, { kind: 'nic', id, nodes: [], netdev: netdevId(id), object: null });
}

export async function setLinkLive(ctx: LiveCtx, id: string, up: boolean): Promise<LiveOutcome> {
  const nic = ctx.record.live.nics.find((n) => n.id === id);
  if (!nic) return LIVE; // not in the running VM yet: the config change is all there is
  if (ctx.state.unplugs[id]) throw new ApiError('UNPLUG_PENDING', `${id} is being unplugged`);
  await ctx.qmp.execute('set_link', { name: id, up });
  nic.linkUp = up;
  ctx.persist();
  return LIVE;
}
