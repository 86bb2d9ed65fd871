/**
 * Process lock-down: QEMU's seccomp sandbox and the optional privilege drop.
 *
 * The sandbox denies obsolete syscalls, set*uid/gid (elevateprivileges), fork/exec (spawn: QEMU
 * must never start helpers such as ifup scripts; our netdevs need none) and resource-control
 * calls (sched_setaffinity & co.). It is installed early during QEMU's start-up.
 *
 * -runas conflicts with elevateprivileges=deny: QEMU drops to the user *after* the filter is in
 * place, so its own setgid()/setuid() are killed with SIGSYS ("Bad system call", ✅ verified on
 * 7.2; `children` denies them too). With runAs we therefore allow set*id — the drop is one-way
 * (root cannot be regained once the real, effective and saved uids are the user's), but the window
 * before it is unfiltered. Spawning QEMU as the user in the first place (spawn's uid/gid options)
 * keeps elevateprivileges=deny and is the better choice where possible.
 */
import { kv } from './opts';

/** A user name as `-runas` takes it (no commas or spaces: it is also a QemuOpts-free plain arg). */
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

export function sandboxArgs(runAs: string | null | undefined): string[] {
  const args = [
    '-sandbox',
    kv('on', {
      obsolete: 'deny',
      elevateprivileges: runAs ? 'allow' : 'deny',
      spawn: 'deny',
      resourcecontrol: 'deny',
    }),
  ];
  if (runAs) {
    if (!USER_RE.test(runAs)) throw new Error(`Invalid user name for -runas: ${JSON.stringify(runAs)}`);
    args.push('-runas', runAs);
  }
  return args;
}
