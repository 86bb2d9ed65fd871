'use client';
/** The default pool's volumes (GET /api/pools/default/volumes), for pickers and the storage page. */
import { useCallback, useEffect, useState } from 'react';
import type { Volume } from '@/lib/schemas';
import { api, errorMessage } from '../api';

export function useVolumes() {
  const [volumes, setVolumes] = useState<Volume[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const { volumes: v } = await api<{ volumes: Volume[] }>('GET', '/api/pools/default/volumes');
      setVolumes([...v].sort((a, b) => a.name.localeCompare(b.name)));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { volumes, error, loading, reload };
}
