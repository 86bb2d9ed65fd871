/** Login, sessions and API tokens. */
import { z } from 'zod';

export const USERNAME_RE = /^[a-z][a-z0-9_.-]{0,31}$/;
export const LoginSchema = z.strictObject({
  username: z.string().regex(USERNAME_RE, 'Unknown user name format'),
  password: z.string().min(1).max(1024),
});

export const CreateTokenSchema = z.strictObject({
  name: z.string().min(1).max(64).regex(/^[\x20-\x7e]+$/, 'Printable ASCII only'),
});

export const MeSchema = z.object({ username: z.string(), role: z.enum(['admin', 'operator', 'viewer']) });
export type Me = z.infer<typeof MeSchema>;
