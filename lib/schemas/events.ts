/**
 * Messages on /ws/events (server → client, JSON text frames). On connect the server sends one
 * `hello` with every VM the user may see; after that, a VM's whole new snapshot whenever anything
 * about it changes (events trigger a re-read, never a patch). Liveness uses websocket ping/pong.
 */
import { z } from 'zod';
import { VmViewSchema } from './vm';

export const EventMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), vms: z.array(VmViewSchema), serverTime: z.string() }),
  z.object({ type: z.literal('vm'), vm: VmViewSchema }),
  z.object({ type: z.literal('vm-deleted'), id: z.string() }),
  /** The server is going down (SIGTERM): reconnect after `retryMs`. */
  z.object({ type: z.literal('server-restarting'), retryMs: z.int() }),
  /** A background failure worth a toast (e.g. a VM crashed, a pending change failed to apply). */
  z.object({ type: z.literal('notice'), level: z.enum(['info', 'error']), vmId: z.string().nullable(), code: z.string(), message: z.string() }),
]);
export type EventMessage = z.infer<typeof EventMessageSchema>;
