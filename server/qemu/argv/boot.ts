/**
 * Boot order and direct kernel boot.
 *
 * The boot order is expressed with per-device `bootindex` properties (not the legacy `-boot
 * order=`, which only knows BIOS drive letters): the config's bootOrder lists device *kinds* and
 * each kind expands, in config order, to its devices. Devices without a bootindex stay bootable
 * after the listed ones (SeaBIOS' non-strict mode), which is the forgiving default for a UI.
 *
 * The CD-ROM gets its index even when empty, so inserting an ISO into a running VM and rebooting
 * boots it, as with a physical machine.
 *
 * Direct kernel boot (-kernel/-initrd/-append) takes precedence over every bootindex in QEMU, so
 * the indexes are still emitted (harmless) and the guest boots the kernel.
 */
import type { VmConfig } from '../../../lib/schemas/vm';
import { CDROM_ID } from './ids';

/** device id → bootindex (1-based, no gaps) for every device that takes part in the boot order. */
export function bootIndexes(config: VmConfig): Map<string, number> {
  const map = new Map<string, number>();
  let next = 1;
  for (const kind of config.bootOrder) {
    const ids =
      kind === 'disk' ? config.disks.map((d) => d.id) : kind === 'cdrom' ? [CDROM_ID] : config.nics.map((n) => n.id);
    for (const id of ids) map.set(id, next++);
  }
  return map;
}

/**
 * -kernel, -initrd and -append. Each value is a single argv element which QEMU stores verbatim
 * (no option parsing), so the command line needs no escaping; the schema already limits it to
 * printable ASCII.
 */
export function kernelArgs(config: VmConfig, resolveVolume: (ref: string) => string): string[] {
  const k = config.kernel;
  if (!k) return [];
  const args = ['-kernel', resolveVolume(k.kernel)];
  if (k.initrd) args.push('-initrd', resolveVolume(k.initrd));
  if (k.cmdline !== '') args.push('-append', k.cmdline);
  return args;
}
