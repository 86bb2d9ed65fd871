'use client';
/**
 * Who is signed in (GET /api/auth/me), for the header and to hide what a viewer may not do.
 * The custom server already redirects signed-out page visits to /login; a 401 here means the
 * session ended since, and api() takes care of going back to the login page.
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Me } from '@/lib/schemas';
import { api } from './api';

interface Session {
  me: Me | null;
  /** False for viewers: they see everything and change nothing. */
  canEdit: boolean;
}

const Ctx = createContext<Session>({ me: null, canEdit: true });

export function useSession(): Session {
  return useContext(Ctx);
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    let live = true;
    api<Me>('GET', '/api/auth/me')
      .then((m) => live && setMe(m))
      .catch(() => {
        /* 401 redirects; anything else leaves the header without a name */
      });
    return () => {
      live = false;
    };
  }, []);
  return <Ctx.Provider value={{ me, canEdit: me ? me.role !== 'viewer' : true }}>{children}</Ctx.Provider>;
}
