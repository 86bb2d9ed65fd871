'use client';
/**
 * The lifecycle buttons of one VM, following its state: Start when it is off or crashed; Shut down,
 * Reboot, Pause and Force off while it runs; Resume and Force off while paused. When the guest
 * ignored an ACPI shutdown (`shutdownIgnored`), Force off becomes a red, labelled button.
 *
 * `compact` (dashboard rows) draws icon buttons with aria-labels; otherwise icon + text.
 * Test ids: vm-action-<action>[-<name>] (the suffix is the VM name when `testIdSuffix` is given).
 */
import Link from 'next/link';
import type { LifecycleAction, VmView } from '@/lib/schemas';
import { Button, buttonClass } from '../ui/Button';
import { ConsoleIcon, PauseIcon, PlayIcon, PowerIcon, RebootIcon, ZapOffIcon } from '../ui/icons';
import { useSession } from '../session';
import { ACTION_LABEL, actionsFor, useVmAction } from './useVmAction';
import { vmHref } from '@/components/vm/links';

const ICON: Record<LifecycleAction, typeof PlayIcon> = {
  start: PlayIcon,
  resume: PlayIcon,
  shutdown: PowerIcon,
  poweroff: ZapOffIcon,
  reboot: RebootIcon,
  reset: RebootIcon,
  pause: PauseIcon,
};

export interface VmActionsProps {
  vm: VmView;
  compact?: boolean;
  /** Show an "open console" link (dashboard rows); the details page has a Console tab instead. */
  showConsole?: boolean;
  testIdSuffix?: string;
  /** Offer Reset (a hard reset, no guest involvement) while running: the details page does. */
  withReset?: boolean;
}

export function VmActions({ vm, compact = false, showConsole = false, testIdSuffix, withReset = false }: VmActionsProps) {
  const { busy, run } = useVmAction(vm);
  const { canEdit } = useSession();
  const sfx = testIdSuffix ? `-${testIdSuffix}` : '';
  const actions: LifecycleAction[] = [...actionsFor(vm), ...(withReset && vm.state === 'running' ? (['reset'] as const) : [])];
  const consoleOk = vm.state === 'running' || vm.state === 'paused' || vm.state === 'starting';

  return (
    <div className={`flex flex-wrap items-center ${compact ? 'gap-1' : 'gap-1.5'}`}>
      {actions.map((a) => {
        const Icon = ICON[a];
        const prominent = a === 'poweroff' && vm.shutdownIgnored;
        const label = ACTION_LABEL[a];
        const primary = a === 'start' || a === 'resume';
        if (compact && !prominent && !primary) {
          return (
            <Button
              key={a}
              size="icon"
              variant="ghost"
              busy={busy === a}
              disabled={!canEdit || (busy !== null && busy !== a)}
              onClick={() => run(a)}
              aria-label={`${label} ${vm.name}`}
              title={label}
              data-testid={`vm-action-${a}${sfx}`}
              icon={<Icon />}
            />
          );
        }
        return (
          <Button
            key={a}
            size={compact ? 'sm' : 'md'}
            variant={prominent ? 'danger' : primary ? 'primary' : 'default'}
            busy={busy === a}
            disabled={!canEdit || (busy !== null && busy !== a)}
            onClick={() => run(a)}
            aria-label={compact ? `${label} ${vm.name}` : undefined}
            title={prominent ? 'The guest did not act on the shutdown request: cut its power' : undefined}
            data-testid={`vm-action-${a}${sfx}`}
            icon={<Icon />}
          >
            {label}
          </Button>
        );
      })}
      {vm.state === 'stopping' && <span className="muted text-xs">stopping…</span>}
      {showConsole && consoleOk && (
        <Link
          href={vmHref(vm.id, 'console')}
          className={buttonClass('ghost', compact ? 'icon' : 'md')}
          aria-label={compact ? `Open the console of ${vm.name}` : undefined}
          title="Console"
          data-testid={`vm-action-console${sfx}`}
        >
          <ConsoleIcon />
          {!compact && 'Console'}
        </Link>
      )}
    </div>
  );
}
