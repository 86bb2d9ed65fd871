/** Login, sessions, passwords and API tokens. */
import { z } from 'zod';

export const USERNAME_RE = /^[a-z][a-z0-9_.-]{0,31}$/;
export const Role = z.enum(['admin', 'operator', 'viewer']);
export type Role = z.infer<typeof Role>;
export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const usernameField = z.string().regex(USERNAME_RE, 'A user name is lowercase letters, digits, ".", "_" or "-" (at most 32), starting with a letter');
/** New passwords: long enough to resist guessing, short enough that scrypt's input stays small. */
export const newPasswordField = z.string().min(10, 'At least 10 characters').max(1024, 'At most 1024 characters');

export const LoginSchema = z.strictObject({
  username: z.string().regex(USERNAME_RE, 'Unknown user name format'),
  password: z.string().min(1).max(1024),
});

const tokenName = z.string().min(1).max(64).regex(/^[\x20-\x7e]+$/, 'Printable ASCII only');

export const CreateTokenSchema = z.strictObject({
  name: tokenName,
  /** At most the owner's role; default: the owner's role (capped again at every use). */
  role: Role.optional(),
  /** Limit the token to one VM: it then sees only that VM and can change nothing else. */
  vmId: z.uuid('Not a VM id').nullable().optional(),
  /** Days until it stops working; default: never. */
  expiresInDays: z.int().min(1).max(3650).nullable().optional(),
});
export type CreateToken = z.infer<typeof CreateTokenSchema>;

export const TokenSchema = z.object({
  id: z.int(),
  name: z.string(),
  username: z.string(),
  role: Role,
  vmId: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  lastUsedIp: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revoked: z.boolean(),
});
export type Token = z.infer<typeof TokenSchema>;

/** The one answer that carries the secret: shown once, never stored in clear. */
export const CreatedTokenSchema = TokenSchema.extend({ token: z.string() });

export const ChangePasswordSchema = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword: newPasswordField,
});

export const MeSchema = z.object({
  username: z.string(),
  role: Role,
  /** Set when the request came with an API token limited to one VM. */
  vmScope: z.string().nullable().optional(),
});
export type Me = z.infer<typeof MeSchema>;
