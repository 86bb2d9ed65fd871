'use client';
/** GET /api/host, fetched once per page load and shared (host limits for the editors and wizard). */
import { useEffect, useState } from 'react';
import type { HostInfo } from '@/lib/schemas';
import { api } from '../api';

let cached: Promise<HostInfo> | null = null;

export function useHost(): HostInfo | null {
  const [host, setHost] = useState<HostInfo | null>(null);
  useEffect(() => {
    let live = true;
    cached ??= api<HostInfo>('GET', '/api/host').catch((e) => {
      cached = null;
      throw e;
    });
    cached.then((h) => live && setHost(h)).catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return host;
}
