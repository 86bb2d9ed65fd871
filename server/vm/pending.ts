/**
 * "Pending" changes: the stored config is what the next boot gets; the running QEMU has the config
 * it was started with plus whatever was applied live. Any hardware field where the two differ is
 * pending, with the reason it could not be applied live.
 */
import type { Hardware, VmConfig } from '../../lib/schemas/vm';

export const HARDWARE_FIELDS = [
  'machine',
  'osPreset',
  'vcpus',
  'maxVcpus',
  'memoryMiB',
  'maxMemoryMiB',
  'disks',
  'cdrom',
  'bootOrder',
  'nics',
  'video',
  'kernel',
] as const satisfies readonly (keyof Hardware)[];

export type HardwareField = (typeof HARDWARE_FIELDS)[number];

/** Why a field cannot change under a running QEMU (used when no live path exists for it). */
export const COLD_REASONS: Record<HardwareField, string> = {
  machine: 'The machine type is fixed while QEMU runs',
  osPreset: 'Applies at next boot',
  vcpus: 'vCPU changes apply at next boot',
  maxVcpus: 'Max vCPUs (hotplug headroom) is fixed while QEMU runs',
  memoryMiB: 'Memory changes apply at next boot',
  maxMemoryMiB: 'Max memory (hotplug headroom) is fixed while QEMU runs',
  disks: 'Disk changes apply at next boot',
  cdrom: 'CD-ROM changes apply at next boot',
  bootOrder: 'The boot order is read by the firmware at boot',
  nics: 'NIC changes apply at next boot',
  video: 'The video device is fixed while QEMU runs',
  kernel: 'Direct kernel boot settings are read at boot',
};

export function hardwareOf(c: VmConfig | Hardware): Pick<Hardware, HardwareField> {
  const out = {} as Record<string, unknown>;
  for (const f of HARDWARE_FIELDS) out[f] = (c as Record<string, unknown>)[f];
  return out as Pick<Hardware, HardwareField>;
}

export function pendingChanges(
  stored: VmConfig,
  live: Pick<Hardware, HardwareField>,
  reasons: Partial<Record<HardwareField, string>> = {},
): { field: HardwareField; reason: string }[] {
  const out: { field: HardwareField; reason: string }[] = [];
  for (const f of HARDWARE_FIELDS) {
    if (JSON.stringify(stored[f]) !== JSON.stringify(live[f])) out.push({ field: f, reason: reasons[f] ?? COLD_REASONS[f] });
  }
  return out;
}

/** The hardware part of a config, as recorded for a running QEMU in live.json. */
export function liveHardware(c: VmConfig): Hardware {
  const { id: _id, name: _name, createdAt: _createdAt, schemaVersion: _v, ...hw } = c;
  return hw;
}
