/**
 * REST handlers for VMs: list, create, read, edit, delete, lifecycle actions, serial tail and
 * screenshots. Each handler is a thin layer: zod has already parsed the input; the VM manager does
 * the work and throws ApiErrors with stable codes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ApiError } from '../../lib/errors';
import { CreateVmSchema, LifecycleAction, PatchVmSchema, VmViewSchema } from '../../lib/schemas/vm';
import { route, type RouteDef } from '../http/router';
import { createVm, deleteVm, patchVm } from '../vm/configs';
import type { VmManager } from '../vm/manager';
import type { SerialHub } from '../serial/hub';

const IdParams = z.strictObject({ id: z.uuid('Not a VM id') });
const ActionParams = z.strictObject({ id: z.uuid('Not a VM id'), action: LifecycleAction });
const ListResponse = z.object({ vms: z.array(VmViewSchema), problems: z.array(z.object({ file: z.string(), message: z.string() })) });
const DeleteQuery = z.strictObject({ deleteDisks: z.enum(['true', 'false']).default('false') });
const SerialQuery = z.strictObject({ tail: z.coerce.number().int().min(1).max(256 * 1024).default(65536) });
const NoQuery = z.strictObject({});

export function vmRoutes(m: VmManager, serial: SerialHub): RouteDef[] {
  return [
    route({
      method: 'GET', path: '/api/vms', tag: 'vms', summary: 'List VMs with their state', query: NoQuery, response: ListResponse,
      handler: () => ({ vms: m.views(), problems: m.store.problems }),
    }),
    route({
      method: 'POST', path: '/api/vms', tag: 'vms', summary: 'Create a VM (new disks are qcow2 created with qemu-img)', query: NoQuery,
      body: CreateVmSchema, response: VmViewSchema, status: 201,
      handler: async ({ body, res }) => {
        const { view, startError } = await createVm(m, body);
        if (startError) {
          // The VM exists; say so, and why it did not start.
          res.setHeader('location', `/api/vms/${view.id}`);
          throw new ApiError(startError.code, `Created "${view.name}", but it did not start: ${startError.message}`, { vm: view });
        }
        return view;
      },
    }),
    route({
      method: 'GET', path: '/api/vms/{id}', tag: 'vms', summary: 'Read one VM', params: IdParams, query: NoQuery, response: VmViewSchema,
      handler: ({ params }) => m.view(params.id),
    }),
    route({
      method: 'PATCH', path: '/api/vms/{id}', tag: 'vms', summary: 'Edit a VM; on a running VM, what cannot apply live is pending until next boot',
      params: IdParams, query: NoQuery, body: PatchVmSchema, response: VmViewSchema,
      handler: ({ params, body }) => patchVm(m, params.id, body),
    }),
    route({
      method: 'DELETE', path: '/api/vms/{id}', tag: 'vms', summary: 'Delete a stopped VM, optionally with its disks', params: IdParams, query: DeleteQuery, produces: 'none',
      handler: ({ params, query }) => deleteVm(m, params.id, query.deleteDisks === 'true'),
    }),
    route({
      method: 'POST', path: '/api/vms/{id}/{action}', tag: 'lifecycle', summary: 'start | shutdown (ACPI) | poweroff (force) | reboot | reset | pause | resume',
      params: ActionParams, query: NoQuery, response: VmViewSchema,
      handler: ({ params }) => m.action(params.id, params.action),
    }),
    route({
      method: 'GET', path: '/api/vms/{id}/serial', tag: 'console', summary: 'The last N bytes of the guest serial output (text)',
      params: IdParams, query: SerialQuery, produces: 'text',
      handler: ({ params, query }) => {
        m.require(params.id);
        return serial.tailText(params.id, query.tail);
      },
    }),
    route({
      method: 'GET', path: '/api/vms/{id}/screenshot', tag: 'console', summary: 'A PNG of the guest screen (QMP screendump)',
      params: IdParams, query: NoQuery, produces: 'png',
      handler: async ({ params }) => {
        m.require(params.id);
        const rt = m.runtimes.get(params.id);
        if (!rt?.qmp) throw new ApiError('VM_NOT_RUNNING', 'The VM is not running');
        const file = path.join(rt.paths.dir, `screen-${Date.now()}.png`);
        try {
          await rt.qmp.execute('screendump', { filename: file, format: 'png' });
          return readPlainFile(file);
        } finally {
          fs.rmSync(file, { force: true });
        }
      },
    }),
  ];
}

/**
 * The screendump lands in a directory the (unprivileged) QEMU user owns. A compromised QEMU could
 * plant a symlink there to make this root process read any file: open without following links and
 * accept only a plain, single-linked file.
 */
function readPlainFile(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    throw new ApiError('QEMU_FAILED', `QEMU did not write the screenshot (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1 || st.size > 64 * 1024 * 1024) throw new ApiError('QEMU_FAILED', 'The screenshot is not a plain file');
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
