/**
 * Generates the OpenAPI 3.1 document from the router's own route declarations and their zod
 * schemas, so the document cannot drift from what the server actually validates.
 */
import { z } from 'zod';
import type { RouteDef } from './router';
import { ERROR_STATUS } from '../../lib/errors';

function schemaOf(s: z.ZodType | undefined, io: 'input' | 'output'): Record<string, unknown> | undefined {
  if (!s) return undefined;
  try {
    return z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function buildOpenApi(routes: RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      security: r.auth === 'none' ? [] : [{ session: [] }, { bearer: [] }],
      'x-role': r.auth === 'none' ? null : (r.role ?? (r.method === 'GET' ? 'viewer' : 'operator')),
    };
    const parameters: unknown[] = [];
    for (const m of r.path.matchAll(/\{(\w+)\}/g)) parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    const q = schemaOf(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    for (const [name, schema] of Object.entries(q?.properties ?? {})) parameters.push({ name, in: 'query', required: q?.required?.includes(name) ?? false, schema });
    if (parameters.length) op.parameters = parameters;
    const body = schemaOf(r.body, 'input');
    if (body) op.requestBody = { required: true, content: { 'application/json': { schema: body } } };
    const ok = r.produces === 'none' ? '204' : String(r.status ?? 200);
    const content =
      r.produces === 'none'
        ? undefined
        : r.produces === 'text'
          ? { 'text/plain': { schema: { type: 'string' } } }
          : r.produces === 'png'
            ? { 'image/png': { schema: { type: 'string', format: 'binary' } } }
            : { 'application/json': { schema: schemaOf(r.response, 'output') ?? {} } };
    op.responses = {
      [ok]: { description: 'Success', ...(content ? { content } : {}) },
      default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'webvmm API', version },
    paths,
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'vmm_session' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'string', enum: Object.keys(ERROR_STATUS) }, message: { type: 'string' }, detail: {} },
        },
      },
    },
    'x-websockets': [
      { path: '/ws/events', summary: 'Live VM snapshots (lib/schemas/events.ts)', auth: 'session or bearer' },
      { path: '/ws/vnc/{id}', summary: 'VNC console, binary subprotocol', auth: 'session + one-time ticket' },
      { path: '/ws/serial/{id}', summary: 'Serial console', auth: 'session + one-time ticket' },
    ],
  };
}
