/** Administration: users, per-VM grants, quotas and the audit log (admins only). */
import { z } from 'zod';
import { newPasswordField as newPassword, Role, usernameField as username } from './auth';

export const QuotaSchema = z.object({
  /** VMs this user may have created and still own; null = the server default. */
  maxVms: z.int().min(0).max(10_000).nullable(),
  /** VMs granted to this user that may run at the same time; null = the server default. */
  maxRunning: z.int().min(0).max(10_000).nullable(),
});

export const GrantSchema = z.object({
  vmId: z.string(),
  /** Null when the VM no longer exists (a grant outlives nothing: it is dropped with the VM). */
  vmName: z.string().nullable(),
  /** Created by this user (counts against maxVms). */
  owner: z.boolean(),
  createdAt: z.string(),
});

export const UserSchema = z.object({
  id: z.int(),
  username: z.string(),
  role: Role,
  disabled: z.boolean(),
  createdAt: z.string(),
  grants: z.array(GrantSchema),
  quota: QuotaSchema,
  /** Effective limits (defaults filled in) and current use. */
  usage: z.object({ vms: z.int(), running: z.int(), maxVms: z.int(), maxRunning: z.int() }),
  sessions: z.int(),
  tokens: z.int(),
});
export type AdminUser = z.infer<typeof UserSchema>;

export const CreateUserSchema = z.strictObject({
  username,
  role: Role,
  /** Omit to have the server generate one (shown once in the answer). */
  password: newPassword.optional(),
  maxVms: z.int().min(0).max(10_000).nullable().optional(),
  maxRunning: z.int().min(0).max(10_000).nullable().optional(),
});

export const PatchUserSchema = z
  .strictObject({
    role: Role.optional(),
    disabled: z.boolean().optional(),
    maxVms: z.int().min(0).max(10_000).nullable().optional(),
    maxRunning: z.int().min(0).max(10_000).nullable().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'Nothing to change');

export const ResetPasswordSchema = z.strictObject({
  /** Omit to have the server generate one (shown once in the answer). */
  password: newPassword.optional(),
});

export const GrantRequestSchema = z.strictObject({ vmId: z.uuid('Not a VM id') });

export const AuditEntrySchema = z.object({
  id: z.int(),
  at: z.string(),
  username: z.string().nullable(),
  tokenId: z.int().nullable(),
  ip: z.string().nullable(),
  action: z.string(),
  method: z.string().nullable(),
  route: z.string().nullable(),
  vmId: z.string().nullable(),
  params: z.unknown(),
  status: z.int(),
  code: z.string().nullable(),
  ok: z.boolean(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

const optText = (max: number) => z.string().max(max).optional();
export const AuditQuerySchema = z.strictObject({
  username: optText(32),
  vmId: optText(64),
  /** Substring of the action, e.g. "POST /api/vms" or "console". */
  action: optText(100),
  result: z.enum(['ok', 'error', 'any']).default('any'),
  /** ISO 8601 bounds. */
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  /** Entries with an id below this (paging backwards). */
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditPageSchema = z.object({ entries: z.array(AuditEntrySchema), nextBefore: z.int().nullable() });
