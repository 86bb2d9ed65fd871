'use client';
/** The header of every signed-in page: product name, nav, live-connection dot, user, theme, logout. */
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useState } from 'react';
import { api } from '@/components/api';
import { useSession } from '@/components/session';
import { Button } from '@/components/ui/Button';
import { ThemeToggle } from '@/components/ui/ThemeToggle';
import { useVmEvents } from '@/components/vm/useVmEvents';

const NAV = [
  { href: '/', label: 'Dashboard', match: (p: string) => p === '/' || p.startsWith('/vms') || p === '/vm' },
  { href: '/storage', label: 'Storage', match: (p: string) => p.startsWith('/storage') },
];
/**
 * Only admins manage users and read the audit log (the server enforces it; this just hides the
 * links). On a phone-width screen they are left out of the header so it does not overflow.
 */
const ADMIN_NAV = [
  { href: '/admin/users', label: 'Users', match: (p: string) => p.startsWith('/admin/users') },
  { href: '/admin/audit', label: 'Audit log', match: (p: string) => p.startsWith('/admin/audit') },
];

export function AppHeader() {
  const pathname = usePathname() ?? '/';
  const { me } = useSession();
  const { connection } = useVmEvents();
  const [leaving, setLeaving] = useState(false);

  const logout = async () => {
    setLeaving(true);
    try {
      await api('POST', '/api/auth/logout', undefined, { no401Redirect: true });
    } catch {
      /* signed out either way: the login page is where we go */
    }
    window.location.assign('/login');
  };

  const live = connection === 'live';
  return (
    <header className="sticky top-0 z-40 border-b border-slate-200 bg-white/90 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
      <div className="mx-auto flex h-14 max-w-7xl items-center gap-2 px-3 sm:gap-4 sm:px-6">
        <Link href="/" className="flex shrink-0 items-center gap-2 font-semibold tracking-tight">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden className="text-sky-700 dark:text-sky-400">
            <rect x="2" y="3" width="20" height="14" rx="2" fill="none" stroke="currentColor" strokeWidth="2" />
            <path d="M8 21h8M12 17v4" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
            <path d="M7 8h4v5H7zM13 8h4v5h-4z" fill="currentColor" opacity=".6" />
          </svg>
          <span className="hidden sm:inline">WebVMM</span>
        </Link>
        <nav aria-label="Main" className="flex items-center gap-1">
          {[...NAV, ...(me?.role === 'admin' ? ADMIN_NAV : [])].map((n) => {
            const active = n.match(pathname);
            return (
              <Link
                key={n.href}
                href={n.href}
                aria-current={active ? 'page' : undefined}
                className={`${ADMIN_NAV.includes(n) ? 'hidden md:inline-block ' : ''}rounded-md px-2.5 py-1.5 text-sm font-medium ${
                  active ? 'bg-slate-200/80 text-slate-900 dark:bg-slate-700/80 dark:text-white' : 'text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800'
                }`}
              >
                {n.label}
              </Link>
            );
          })}
        </nav>
        <div className="ml-auto flex items-center gap-1 sm:gap-2">
          <span
            className="flex items-center gap-1.5 text-xs muted"
            title={live ? 'Live updates connected' : 'Live updates disconnected: reconnecting'}
            data-testid="events-connection"
            data-state={connection}
          >
            <span className={`h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'animate-pulse bg-amber-500'}`} aria-hidden />
            <span className="hidden md:inline">{live ? 'Live' : connection === 'connecting' ? 'Connecting…' : 'Reconnecting…'}</span>
          </span>
          {me && (
            <span className="hidden text-sm sm:inline" data-testid="current-user">
              {me.username}
              <span className="muted"> · {me.role}</span>
            </span>
          )}
          <ThemeToggle />
          <Button size="sm" onClick={logout} busy={leaving} data-testid="logout">
            Log out
          </Button>
        </div>
      </div>
    </header>
  );
}
