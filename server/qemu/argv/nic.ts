/**
 * Network interfaces: a backend (`-netdev`, id `<nic>-net`) and a guest device (`<nic>`) that
 * points at it. The only backend the schema allows today is `user` (slirp), which needs no host
 * setup and no helper process (the sandbox forbids spawning one anyway).
 *
 * As with disks, the descriptions are plain objects usable both here and as netdev_add /
 * device_add arguments. Link state is not a device property in QEMU: a NIC whose config says
 * linkUp=false is brought down with set_link right after start (see startupCommands in index.ts).
 */
import type { Nic, VmConfig } from '../../../lib/schemas/vm';
import { netdevId } from './ids';
import { type Placement, nicPlacement } from './devices';
import { type OptValue, device, kv } from './opts';

const NIC_DRIVERS: Record<Nic['model'], string> = {
  virtio: 'virtio-net-pci',
  // The classic 82540EM: every OS has a driver for it (Windows installers without virtio drivers).
  e1000: 'e1000',
};

/** netdev_add arguments for a NIC's backend. */
export function netdevOptions(nic: Nic): { type: 'user'; id: string } {
  return { type: nic.network, id: netdevId(nic.id) };
}

/** device_add arguments for a NIC (also rendered as its -device). */
export function nicDeviceProps(
  nic: Nic,
  placement: Placement,
  bootindex?: number,
): { driver: string; id: string } & Record<string, OptValue> {
  const props: Record<string, OptValue | undefined> = {
    driver: NIC_DRIVERS[nic.model],
    id: nic.id,
    netdev: netdevId(nic.id),
    mac: nic.mac,
    ...placement,
    bootindex,
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as {
    driver: string;
    id: string;
  } & Record<string, OptValue>;
}

export function nicsArgs(config: VmConfig, boot: Map<string, number>): string[] {
  return config.nics.flatMap((nic, i) => {
    const { type, id } = netdevOptions(nic);
    const { driver, ...props } = nicDeviceProps(nic, nicPlacement(config.machine, i), boot.get(nic.id));
    return ['-netdev', kv(type, { id }), ...device(driver, props)];
  });
}
