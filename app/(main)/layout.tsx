/**
 * The signed-in shell: skip link, header (product, nav, user, theme, logout) and the providers every
 * page shares: the session and the live /ws/events connection, which lives here so that it
 * survives navigation between pages.
 */
import type { ReactNode } from 'react';
import { SessionProvider } from '@/components/session';
import { VmEventsProvider } from '@/components/vm/useVmEvents';
import { AppHeader } from './_components/AppHeader';

export default function MainLayout({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <VmEventsProvider>
        <a
          href="#content"
          className="sr-only z-50 rounded-md bg-sky-700 px-3 py-2 text-sm font-medium text-white focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
        >
          Skip to content
        </a>
        <AppHeader />
        <main id="content" tabIndex={-1} className="mx-auto w-full max-w-7xl px-3 py-4 outline-none sm:px-6 sm:py-6">
          {children}
        </main>
      </VmEventsProvider>
    </SessionProvider>
  );
}
