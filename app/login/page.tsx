/** /login: the only page a signed-out visitor may see. `next` is where to go after signing in. */
import type { Metadata } from 'next';
import { LoginForm } from './_components/LoginForm';

export const metadata: Metadata = { title: 'Sign in' };

/** Only same-origin paths: `next=//evil.example` or `next=https://…` would be an open redirect. */
function safeNext(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s || !s.startsWith('/') || s.startsWith('//') || s.startsWith('/\\') || s.startsWith('/login')) return '/';
  return s;
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  return (
    <main id="content" className="flex min-h-screen items-center justify-center px-4 py-10">
      <LoginForm next={safeNext(sp.next)} />
    </main>
  );
}
