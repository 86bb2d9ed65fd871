'use client';
/**
 * Overview: state, uptime, accelerator, a summary of the configuration, the QEMU command line of
 * the running process (read-only, for the curious) and the basic details editor (name, machine
 * type, OS preset).
 * Test ids: overview-state, overview-uptime, overview-argv, overview-pending, field-name,
 * field-machine, field-osPreset, error-name.
 */
import { useEffect, useState } from 'react';
import type { PatchVm, VmView } from '@/lib/schemas';
import { formatDate, formatDuration, formatMiB } from '@/components/format';
import { Field } from '@/components/ui/Field';
import { StateBadge } from '@/components/vm/StateBadge';
import { EditorShell, useDraft, usePatch } from './editorKit';

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function Row({ k, children, testId }: { k: string; children: React.ReactNode; testId?: string }) {
  return (
    <div className="grid grid-cols-[8rem_1fr] gap-2 py-1.5 text-sm sm:grid-cols-[10rem_1fr]">
      <dt className="muted">{k}</dt>
      <dd className="min-w-0 break-words" data-testid={testId}>
        {children}
      </dd>
    </div>
  );
}

export function OverviewPane({ vm, canEdit }: { vm: VmView; canEdit: boolean }) {
  const now = useNow(1000);
  const { draft, set, dirty, reset, rebase } = useDraft({ name: vm.name, machine: vm.machine, osPreset: vm.osPreset });
  const { save, busy, errors, formError, savedAt } = usePatch(vm);
  const [copied, setCopied] = useState(false);

  const onSave = async () => {
    const patch: PatchVm = {};
    if (draft.name !== vm.name) patch.name = draft.name.trim();
    if (draft.machine !== vm.machine) patch.machine = draft.machine;
    if (draft.osPreset !== vm.osPreset) patch.osPreset = draft.osPreset;
    const r = await save(patch);
    if (r.ok && r.vm) rebase({ name: r.vm.name, machine: r.vm.machine, osPreset: r.vm.osPreset });
  };

  const rt = vm.runtime;
  const started = rt ? Date.parse(rt.startedAt) : NaN;
  const argv = rt?.argv ?? [];
  // One option per line with its value (`-m 256M,…`), shell-quoted where needed: easier to read and to copy.
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const lines: string[] = [];
  argv.forEach((a, i) => {
    if (i > 0 && !a.startsWith('-') && lines.length > 1 && argv[i - 1].startsWith('-')) lines[lines.length - 1] += ` ${quote(a)}`;
    else lines.push(i === 0 ? quote(a) : `  ${quote(a)}`);
  });
  const cmdline = lines.join(' \\\n');

  return (
    <div className="space-y-4">
      <section className="card p-4 sm:p-5" aria-labelledby="ov-title">
        <h2 id="ov-title" className="mb-2 text-base font-semibold">
          Overview
        </h2>
        <dl className="divide-y divide-slate-100 dark:divide-slate-800">
          <Row k="State">
            <StateBadge state={vm.state} testId="overview-state" />
            {vm.stateReason && vm.state !== 'crashed' && <span className="muted ml-2 text-xs">{vm.stateReason}</span>}
          </Row>
          <Row k="Uptime" testId="overview-uptime">
            {rt && Number.isFinite(started) ? formatDuration(now - started) : '—'}
          </Row>
          {rt && (
            <Row k="Process">
              pid {rt.pid} · {rt.accel === 'tcg' ? 'TCG (software emulation)' : 'KVM'}
            </Row>
          )}
          <Row k="Machine">
            {vm.machine} · {vm.osPreset} preset
          </Row>
          <Row k="CPUs">
            {vm.vcpus} vCPU{vm.vcpus === 1 ? '' : 's'} (max {vm.maxVcpus})
          </Row>
          <Row k="Memory">
            {formatMiB(vm.memoryMiB)} (max {formatMiB(vm.maxMemoryMiB)}){vm.balloonMiB !== null && `, balloon ${formatMiB(vm.balloonMiB)}`}
          </Row>
          <Row k="Disks">
            {vm.disks.length ? (
              <ul>
                {vm.disks.map((d) => (
                  <li key={d.id} className="font-mono text-xs">
                    {d.id}: {d.volume} ({d.bus}, {d.format}
                    {d.readonly ? ', read-only' : ''})
                  </li>
                ))}
              </ul>
            ) : (
              'none'
            )}
          </Row>
          <Row k="CD-ROM">{vm.cdrom ? <span className="font-mono text-xs">{vm.cdrom}</span> : 'empty'}</Row>
          <Row k="Network">
            {vm.nics.length ? (
              <ul>
                {vm.nics.map((n) => (
                  <li key={n.id} className="font-mono text-xs">
                    {n.id}: {n.model} {n.mac} (user NAT{n.linkUp ? '' : ', link down'})
                  </li>
                ))}
              </ul>
            ) : (
              'none'
            )}
          </Row>
          <Row k="Boot order">
            {vm.bootOrder.join(' → ')}
            {vm.kernel && <span className="muted"> · direct kernel boot</span>}
          </Row>
          <Row k="Video">{vm.video}</Row>
          <Row k="Created">{formatDate(vm.createdAt)}</Row>
        </dl>
        {vm.pending.length > 0 && (
          <div className="mt-3 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950/40 dark:text-amber-200" data-testid="overview-pending">
            <p className="font-medium">Changes that apply at next boot:</p>
            <ul className="mt-1 list-disc pl-5">
              {vm.pending.map((p) => (
                <li key={p.field}>
                  <span className="font-mono">{p.field}</span>: {p.reason}
                </li>
              ))}
            </ul>
          </div>
        )}
      </section>

      <section className="card p-4 sm:p-5" aria-labelledby="argv-title">
        <div className="mb-2 flex items-center justify-between gap-2">
          <h2 id="argv-title" className="text-base font-semibold">
            QEMU command line
          </h2>
          {cmdline && (
            <button
              type="button"
              className="btn btn-sm"
              onClick={() => {
                void navigator.clipboard?.writeText(cmdline).then(() => {
                  setCopied(true);
                  setTimeout(() => setCopied(false), 1500);
                });
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
          )}
        </div>
        {cmdline ? (
          <pre
            className="max-h-80 overflow-auto rounded-md bg-slate-900 p-3 font-mono text-xs leading-relaxed text-slate-100 dark:bg-black"
            data-testid="overview-argv"
            tabIndex={0}
            aria-label="QEMU command line"
          >
            {cmdline}
          </pre>
        ) : (
          <p className="muted text-sm" data-testid="overview-argv-empty">
            The command line appears here while the VM runs.
          </p>
        )}
      </section>

      <EditorShell
        item="overview"
        title="Details"
        vm={vm}
        pendingFields={['name', 'machine', 'osPreset']}
        dirty={dirty}
        busy={busy}
        onSave={onSave}
        onRevert={reset}
        formError={formError}
        savedAt={savedAt}
        canEdit={canEdit}
      >
        <div className="grid gap-4 sm:grid-cols-3">
          <Field label="Name" error={errors.name} errorTestId="error-name">
            <input className="input" value={draft.name} onChange={(e) => set('name', e.target.value)} disabled={!canEdit} data-testid="field-name" autoComplete="off" spellCheck={false} />
          </Field>
          <Field label="Machine type" error={errors.machine} errorTestId="error-machine" hint="q35: modern PCIe chipset; pc: i440FX for old guests">
            <select className="input" value={draft.machine} onChange={(e) => set('machine', e.target.value as VmView['machine'])} disabled={!canEdit} data-testid="field-machine">
              <option value="q35">q35</option>
              <option value="pc">pc (i440FX)</option>
            </select>
          </Field>
          <Field label="OS preset" error={errors.osPreset} errorTestId="error-osPreset">
            <select className="input" value={draft.osPreset} onChange={(e) => set('osPreset', e.target.value as VmView['osPreset'])} disabled={!canEdit} data-testid="field-osPreset">
              <option value="linux">Linux</option>
              <option value="windows">Windows</option>
              <option value="other">Other</option>
            </select>
          </Field>
        </div>
      </EditorShell>
    </div>
  );
}
