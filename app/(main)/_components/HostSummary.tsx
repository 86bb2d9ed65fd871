'use client';
/**
 * The host card on the dashboard: QEMU version, the accelerator (with an amber "Software emulation
 * (TCG)" badge and its reason when KVM is not usable), CPUs, memory and disk use.
 * Test ids: host-summary, host-qemu-version, host-accel, host-tcg-badge, host-cpus, host-memory, host-disk.
 */
import { useEffect, useState } from 'react';
import type { HostInfo } from '@/lib/schemas';
import { api, errorMessage } from '@/components/api';
import { formatBytes, formatMiB } from '@/components/format';
import { WarningIcon } from '@/components/ui/icons';

function Meter({ used, total, label }: { used: number; total: number; label: string }) {
  const pct = total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0;
  const color = pct > 90 ? 'bg-red-500' : pct > 75 ? 'bg-amber-500' : 'bg-sky-600 dark:bg-sky-500';
  return (
    <div className="mt-1.5 h-1.5 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
      <div className={`h-full ${color}`} style={{ width: `${pct}%` }} />
    </div>
  );
}

export function HostSummary() {
  const [host, setHost] = useState<HostInfo | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = () =>
      api<HostInfo>('GET', '/api/host')
        .then((h) => {
          if (!live) return;
          setHost(h);
          setError(null);
        })
        .catch((e) => live && setError(errorMessage(e)));
    void load();
    const t = setInterval(load, 30000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);

  if (!host) {
    return (
      <section className="card p-4" aria-label="Host" data-testid="host-summary" aria-busy={!error}>
        {error ? <p className="text-sm text-red-700 dark:text-red-400">Host information is unavailable: {error}</p> : <p className="muted text-sm">Loading host information…</p>}
      </section>
    );
  }

  const memUsed = host.memory.totalMiB - host.memory.availableMiB;
  const diskUsed = host.disk.totalBytes - host.disk.freeBytes;
  return (
    <section className="card p-4" aria-labelledby="host-heading" data-testid="host-summary">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 id="host-heading" className="text-base font-semibold">
          {host.hostname}
        </h2>
        <span className="muted text-sm" data-testid="host-qemu-version">
          QEMU {host.qemu.version ?? 'version unknown'}
        </span>
        {host.accel.emulated ? (
          <span
            className="inline-flex items-center gap-1.5 rounded-full bg-amber-100 px-2.5 py-0.5 text-xs font-semibold text-amber-900 ring-1 ring-amber-500/40 ring-inset dark:bg-amber-900/40 dark:text-amber-200"
            data-testid="host-tcg-badge"
            title={host.accel.reason}
          >
            <WarningIcon width={14} height={14} />
            Software emulation (TCG)
          </span>
        ) : (
          <span className="inline-flex items-center rounded-full bg-emerald-100 px-2.5 py-0.5 text-xs font-semibold text-emerald-800 ring-1 ring-emerald-600/30 ring-inset dark:bg-emerald-900/40 dark:text-emerald-200" title={host.accel.reason}>
            KVM acceleration
          </span>
        )}
      </div>
      {host.accel.emulated && (
        <p className="mt-2 text-sm text-amber-900 dark:text-amber-200" data-testid="host-accel">
          Guests run without hardware acceleration and will be slow. <span className="muted">{host.accel.reason}</span>
        </p>
      )}
      {!host.accel.emulated && (
        <p className="sr-only" data-testid="host-accel">
          Accelerator: {host.accel.chosen}. {host.accel.reason}
        </p>
      )}
      <dl className="mt-4 grid grid-cols-1 gap-4 sm:grid-cols-3">
        <div>
          <dt className="muted text-xs font-medium tracking-wide uppercase">CPUs</dt>
          <dd className="mt-0.5 text-lg font-semibold tabular-nums" data-testid="host-cpus">
            {host.cpus}
            {host.load.length > 0 && <span className="muted ml-2 text-xs font-normal">load {host.load.map((l) => l.toFixed(2)).join(' ')}</span>}
          </dd>
        </div>
        <div>
          <dt className="muted text-xs font-medium tracking-wide uppercase">Memory</dt>
          <dd className="mt-0.5" data-testid="host-memory">
            <span className="text-lg font-semibold tabular-nums">{formatMiB(host.memory.availableMiB)}</span>
            <span className="muted text-sm"> free of {formatMiB(host.memory.totalMiB)}</span>
            <Meter used={memUsed} total={host.memory.totalMiB} label="Host memory in use" />
          </dd>
        </div>
        <div>
          <dt className="muted text-xs font-medium tracking-wide uppercase">Disk</dt>
          <dd className="mt-0.5" data-testid="host-disk" title={host.disk.path}>
            <span className="text-lg font-semibold tabular-nums">{formatBytes(host.disk.freeBytes)}</span>
            <span className="muted text-sm"> free of {formatBytes(host.disk.totalBytes)}</span>
            <Meter used={diskUsed} total={host.disk.totalBytes} label="Host disk in use" />
          </dd>
        </div>
      </dl>
    </section>
  );
}
