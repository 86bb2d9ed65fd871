/** Host capabilities as reported by GET /api/host. */
import { z } from 'zod';

export const HostInfoSchema = z.object({
  hostname: z.string(),
  qemu: z.object({ binary: z.string(), version: z.string().nullable(), imgBinary: z.string() }),
  accel: z.object({
    chosen: z.enum(['kvm', 'tcg']),
    reason: z.string(),
    /** True when KVM is not usable and guests run under software emulation. */
    emulated: z.boolean(),
  }),
  cpus: z.int(),
  memory: z.object({ totalMiB: z.int(), availableMiB: z.int() }),
  disk: z.object({ path: z.string(), totalBytes: z.number(), freeBytes: z.number() }),
  load: z.array(z.number()),
});
export type HostInfo = z.infer<typeof HostInfoSchema>;
