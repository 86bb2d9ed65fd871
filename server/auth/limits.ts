/**
 * Per-user resource limits and their defaults. Read from the environment once; a per-user value
 * stored by an admin (users.max_vms / max_running) overrides the default. Admins have no quota.
 *
 *   VMM_DEFAULT_MAX_VMS       VMs an operator may create and own at once        (default 10)
 *   VMM_DEFAULT_MAX_RUNNING   of the VMs granted to an operator, running at once (default 4)
 *   VMM_MAX_CONSOLES          open VNC + serial websockets per user              (default 8)
 *   VMM_QEMU_USER             the user QEMU runs as when the server is root     (default vmm-qemu)
 */
import { z } from 'zod';

const Env = z.object({
  VMM_DEFAULT_MAX_VMS: z.coerce.number().int().min(0).max(10_000).default(10),
  VMM_DEFAULT_MAX_RUNNING: z.coerce.number().int().min(0).max(10_000).default(4),
  VMM_MAX_CONSOLES: z.coerce.number().int().min(1).max(1000).default(8),
  VMM_QEMU_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'VMM_QEMU_USER must be a plain user name')
    .default('vmm-qemu'),
});

export interface Limits {
  defaultMaxVms: number;
  defaultMaxRunning: number;
  maxConsolesPerUser: number;
  qemuUser: string;
}

let cached: Limits | null = null;

export function limits(env: NodeJS.ProcessEnv = process.env): Limits {
  if (cached && env === process.env) return cached;
  const r = Env.safeParse(env);
  if (!r.success) throw new Error(`Invalid environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const l = {
    defaultMaxVms: r.data.VMM_DEFAULT_MAX_VMS,
    defaultMaxRunning: r.data.VMM_DEFAULT_MAX_RUNNING,
    maxConsolesPerUser: r.data.VMM_MAX_CONSOLES,
    qemuUser: r.data.VMM_QEMU_USER,
  };
  if (env === process.env) cached = l;
  return l;
}
