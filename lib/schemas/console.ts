/** POST /api/vms/{id}/console: a one-time ticket for the VNC or serial websocket. */
import { z } from 'zod';

export const ConsoleKind = z.enum(['vnc', 'serial']);
export const ConsoleRequestSchema = z.strictObject({ kind: ConsoleKind.default('vnc') });

export const ConsoleTicketSchema = z.object({
  /** Path + query to open with a websocket on this same origin, e.g. /ws/vnc/<id>?ticket=... */
  url: z.string(),
  ticket: z.string(),
  expiresAt: z.string(),
  /** VNC only: the one-time VNC password (set with set_password + expire_password +30). */
  password: z.string().nullable(),
  viewOnly: z.boolean(),
});
export type ConsoleTicket = z.infer<typeof ConsoleTicketSchema>;
