/**
 * POST /api/vms/{id}/console: a one-time, 30-second ticket for the VNC or serial websocket, bound
 * to the user and the VM. For VNC it also sets a fresh VNC password in QEMU that expires with it.
 */
import { z } from 'zod';
import { ApiError } from '../../lib/errors';
import { ConsoleTicketSchema, ConsoleKind } from '../../lib/schemas/console';
import { route, type RouteDef } from '../http/router';
import { issueConsoleTicket } from '../console/issue';
import type { TicketStore } from '../console/tickets';
import type { VmManager } from '../vm/manager';

const IdParams = z.strictObject({ id: z.uuid('Not a VM id') });
const Body = z.strictObject({ kind: ConsoleKind.default('vnc'), viewOnly: z.boolean().default(false) });

export function consoleRoutes(m: VmManager, tickets: TicketStore): RouteDef[] {
  return [
    route({
      method: 'POST', path: '/api/vms/{id}/console', tag: 'console', role: 'viewer',
      summary: 'A one-time 30 s ticket for /ws/vnc/{id} or /ws/serial/{id}',
      params: IdParams, query: z.strictObject({}), body: Body, response: ConsoleTicketSchema,
      handler: async ({ params, body, user }) => {
        m.require(params.id);
        const rt = m.runtimes.get(params.id);
        if (!rt?.qmp) throw new ApiError('VM_NOT_RUNNING', 'The VM is not running; start it to open its console');
        return issueConsoleTicket({ user, vmId: params.id, kind: body.kind, viewOnly: body.viewOnly, qmp: rt.qmp, tickets });
      },
    }),
  ];
}
