/**
 * Small building blocks shared by every schema. The patterns here are what keeps user input out of
 * QEMU's option parser: nothing that passes them can contain a comma, a slash where none belongs,
 * a NUL byte, or a leading dash.
 */
import { z } from 'zod';

/** VM names: what virt-manager accepts, minus anything a shell or QEMU option parser would care about. */
export const VM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const vmName = z
  .string()
  .regex(VM_NAME_RE, 'Name must start with a letter or digit and use only letters, digits, ".", "_" or "-" (at most 63)');

/** Ids of devices inside one VM (disk0, nic1, ...): also used as QEMU device ids and node-name prefixes. */
export const DEVICE_ID_RE = /^[a-z][a-z0-9]{0,15}$/;
/** Ids that name QEMU infrastructure (root ports, vCPUs, DIMMs, the CD drive, ...): a disk or NIC may not take them. */
export const RESERVED_DEVICE_ID_RE = /^(?:rp\d+|cpu\d+|dimm\d+|cd\d+|scsi\d+|balloon\d+|video\d+)$/;
export const deviceId = z
  .string()
  .regex(DEVICE_ID_RE, 'Device id must be lowercase letters and digits (at most 16)')
  .refine((id) => !RESERVED_DEVICE_ID_RE.test(id), 'This id is reserved for a built-in device (rpN, cpuN, dimmN, cdN, scsiN, balloonN, videoN)');

export const POOL_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;
/** A file inside a pool: one path component, no leading dot, no commas. */
export const VOLUME_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const VOLUME_REF_RE = /^([a-z][a-z0-9_-]{0,31})\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

/** A volume is referenced as `<pool>/<file>`, e.g. `default/guest.iso`. */
export const volumeRef = z
  .string()
  .max(200)
  .regex(VOLUME_REF_RE, 'A volume is "<pool>/<file>", e.g. "default/guest.iso"')
  // zod runs this even when the regex failed: a string without "/" must not throw here (a 500).
  .refine((v) => !(v.split('/')[1] ?? '').includes('..'), 'A volume name may not contain ".."');

export const volumeFile = z
  .string()
  .regex(VOLUME_FILE_RE, 'A volume name uses letters, digits, ".", "_" and "-" (at most 128) and does not start with "."')
  .refine((v) => !v.includes('..'), 'A volume name may not contain ".."');

export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const macAddress = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(
    z
      .string()
      .regex(MAC_RE, 'A MAC address looks like 52:54:00:12:34:56')
      .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'A MAC address must be unicast'),
  );

/** Kernel command lines: printable ASCII only (they are one argv element, never parsed by a shell). */
export const kernelCmdline = z
  .string()
  .max(2048)
  .regex(/^[\x20-\x7e]*$/, 'The kernel command line may only hold printable ASCII characters');

export const uuid = z.uuid();

export function parseVolumeRef(ref: string): { pool: string; file: string } {
  const m = VOLUME_REF_RE.exec(ref);
  if (!m) throw new Error(`not a volume reference: ${ref}`);
  return { pool: m[1], file: m[2] };
}
