/**
 * REST handlers for live hotplug (issue 5): vCPUs, memory, balloon, disks, NICs, link state and
 * CD-ROM media, plus two read-only views of the running hardware (guest memory stats, and the
 * live inventory read from QMP). Each change answers {result, reason?, device?, vm}; see
 * lib/schemas/hotplug.ts for what the results mean. The work is in server/vm/hotplug.
 *
 * Register these BEFORE vmRoutes: `POST /api/vms/{id}/{action}` would otherwise also match
 * POST /api/vms/{id}/disks and /nics.
 */
import { z } from 'zod';
import { deviceId } from '../../lib/schemas/common';
import {
  AttachDiskSchema,
  AttachNicSchema,
  DeviceInventorySchema,
  HotplugResponseSchema,
  SetBalloonSchema,
  SetCdromSchema,
  SetLinkSchema,
  SetMemorySchema,
  SetVcpusSchema,
  VmStatsSchema,
} from '../../lib/schemas/hotplug';
import { route, type RouteDef } from '../http/router';
import type { VmManager } from '../vm/manager';

const IdParams = z.strictObject({ id: z.uuid('Not a VM id') });
const DiskParams = z.strictObject({ id: z.uuid('Not a VM id'), diskId: deviceId });
const NicParams = z.strictObject({ id: z.uuid('Not a VM id'), nicId: deviceId });
const NoQuery = z.strictObject({});

export function hotplugRoutes(m: VmManager): RouteDef[] {
  const h = m.hotplug;
  const common = { tag: 'hotplug', query: NoQuery, response: HotplugResponseSchema } as const;
  return [
    route({
      ...common, method: 'PUT', path: '/api/vms/{id}/vcpus', params: IdParams, body: SetVcpusSchema,
      summary: 'Set the vCPU count (1..maxVcpus). Adding is live; removing is pending on QEMU < 8.0 (heap corruption after CPU unplug, see reason)',
      handler: ({ params, body }) => h.setVcpus(params.id, body.count),
    }),
    route({
      ...common, method: 'PUT', path: '/api/vms/{id}/memory', params: IdParams, body: SetMemorySchema,
      summary: 'Set the memory size: growing adds a pc-dimm (steps of 128 MiB, up to maxMemoryMiB); shrinking applies at next boot',
      handler: ({ params, body }) => h.setMemory(params.id, body.sizeMiB),
    }),
    route({
      ...common, method: 'PUT', path: '/api/vms/{id}/balloon', params: IdParams, body: SetBalloonSchema,
      summary: 'Set the balloon target in MiB (null: none); the guest gives memory back without an unplug',
      handler: ({ params, body }) => h.setBalloon(params.id, body.targetMiB),
    }),
    route({
      ...common, method: 'POST', path: '/api/vms/{id}/disks', params: IdParams, body: AttachDiskSchema,
      summary: 'Attach a disk: a new qcow2 ({sizeMiB}) or a pool volume ({volume}); virtio (a free root port) or scsi (scsi0)',
      handler: ({ params, body }) => h.attachDisk(params.id, body),
    }),
    route({
      ...common, method: 'DELETE', path: '/api/vms/{id}/disks/{diskId}', params: DiskParams,
      summary: 'Detach a disk (the volume stays in the pool). unplug-pending if the guest does not release it within 5 s; the boot disk is refused live (BOOT_DISK)',
      handler: ({ params }) => h.detachDisk(params.id, params.diskId),
    }),
    route({
      ...common, method: 'POST', path: '/api/vms/{id}/nics', params: IdParams, body: AttachNicSchema,
      summary: 'Attach a NIC (user network; MAC generated if not given)',
      handler: ({ params, body }) => h.attachNic(params.id, body),
    }),
    route({
      ...common, method: 'DELETE', path: '/api/vms/{id}/nics/{nicId}', params: NicParams,
      summary: 'Detach a NIC (device_del, wait for the guest, then netdev_del)',
      handler: ({ params }) => h.detachNic(params.id, params.nicId),
    }),
    route({
      ...common, method: 'PUT', path: '/api/vms/{id}/nics/{nicId}/link', params: NicParams, body: SetLinkSchema,
      summary: 'Set a NIC link up or down (set_link)',
      handler: ({ params, body }) => h.setLink(params.id, params.nicId, body.up),
    }),
    route({
      ...common, method: 'PUT', path: '/api/vms/{id}/cdrom', params: IdParams, body: SetCdromSchema,
      summary: 'Insert, change ({volume}) or eject ({volume: null}) the CD-ROM medium',
      handler: ({ params, body }) => h.setCdrom(params.id, body.volume),
    }),
    route({
      method: 'GET', path: '/api/vms/{id}/stats', tag: 'hotplug', params: IdParams, query: NoQuery, response: VmStatsSchema,
      summary: "Memory of a running VM: base + hot-added, balloon, and the guest's own numbers when its balloon driver reports them",
      handler: ({ params }) => h.stats(params.id),
    }),
    route({
      method: 'GET', path: '/api/vms/{id}/devices', tag: 'hotplug', params: IdParams, query: NoQuery, response: DeviceInventorySchema,
      summary: 'The live device inventory as QEMU reports it now (qom-list, block nodes, query-block, CPU slots, memory devices), with the root-port map',
      handler: ({ params }) => h.inventory(params.id),
    }),
  ];
}
