/** /admin/users: users, roles, per-VM grants, quotas and API tokens (admins only). */
import type { Metadata } from 'next';
import { UsersAdmin } from './_components/UsersAdmin';

export const metadata: Metadata = { title: 'Users' };

export default function UsersPage() {
  return <UsersAdmin />;
}
