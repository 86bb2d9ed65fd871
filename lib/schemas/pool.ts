/** Storage pools and volumes. A pool is a directory; a file in it is a volume. */
import { z } from 'zod';
import { volumeFile } from './common';

export const VolumeSchema = z.object({
  pool: z.string(),
  name: z.string(),
  /** `<pool>/<file>`: how configs refer to it. */
  ref: z.string(),
  format: z.enum(['qcow2', 'raw', 'iso']),
  sizeBytes: z.number(),
  /** Allocated bytes on the host disk (sparse files use less than sizeBytes). */
  allocatedBytes: z.number(),
  virtualSizeBytes: z.number(),
  modifiedAt: z.string(),
  /** VM ids whose configs reference this volume. */
  usedBy: z.array(z.string()),
});
export type Volume = z.infer<typeof VolumeSchema>;

export const CreateVolumeSchema = z.strictObject({
  name: volumeFile.refine((n) => n.endsWith('.qcow2'), 'A new volume name must end in .qcow2'),
  sizeMiB: z.int().min(1).max(16 * 1024 * 1024),
});
export type CreateVolume = z.infer<typeof CreateVolumeSchema>;
