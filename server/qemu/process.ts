/**
 * QEMU process supervision: spawn detached (so a server restart or crash leaves VMs running),
 * pidfile + log file in the VM's private run dir, and the checks that make reattaching after a
 * restart safe: a pid is trusted only if /proc/<pid>/cmdline is a QEMU carrying this VM's uuid.
 * QEMU is not started with -daemonize: that would send its later crash messages to /dev/null.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ApiError } from '../../lib/errors';
import { ensureDir } from '../store/atomic';
import { MAX_SOCKET_PATH, type RunPaths } from './paths';
import { QmpClient } from './qmp/client';

/** Creates the private run dir (0700) and clears leftovers of an earlier run. */
export function prepareRunDir(paths: RunPaths): void {
  for (const p of [paths.qmp, paths.vnc, paths.serial]) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw new ApiError('INTERNAL', `The socket path ${p} is longer than ${MAX_SOCKET_PATH} bytes; set VMM_RUN_DIR to a shorter directory`);
    }
  }
  ensureDir(paths.dir, 0o700);
  for (const p of [paths.qmp, paths.vnc, paths.serial, paths.pidfile, paths.live]) fs.rmSync(p, { force: true });
  fs.writeFileSync(paths.log, '', { mode: 0o600 });
}

/**
 * Starts QEMU in its own session, stdout/stderr to the log file, and lets it outlive us. With `as`,
 * QEMU is exec'd already as that user (setpriv, with the user's supplementary groups, e.g. kvm):
 * it never holds root, so its seccomp sandbox can deny set*id (elevateprivileges=deny), which
 * QEMU's own -runas cannot (it would drop privileges after the filter is in place). setpriv execs
 * in place, so the pid we get is QEMU's.
 */
export function spawnQemu(argv: string[], paths: RunPaths, as: { uid: number; gid: number } | null = null): number {
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  const cmd = as ? ['setpriv', `--reuid=${as.uid}`, `--regid=${as.gid}`, '--init-groups', '--inh-caps=-all', '--', ...argv] : argv;
  try {
    const child = spawn(cmd[0], cmd.slice(1), {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: paths.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } as unknown as NodeJS.ProcessEnv,
    });
    // Reap it if it exits while we are alive (otherwise it would linger as a zombie and look alive).
    child.on('error', () => {});
    child.on('exit', () => {});
    child.unref();
    if (!child.pid) throw new ApiError('QEMU_FAILED', `Could not start ${argv[0]}`);
    return child.pid;
  } finally {
    fs.closeSync(logFd);
  }
}

export function readPidfile(paths: RunPaths): number | null {
  try {
    const pid = Number(fs.readFileSync(paths.pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** True if pid is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Guards against pid reuse: the process must be a QEMU started for exactly this VM. */
export function pidBelongsTo(pid: number, vmId: string): boolean {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!/qemu-system-|\/kvm$|^kvm$/.test(args[0] ?? '')) return false;
    const i = args.indexOf('-uuid');
    return i >= 0 && args[i + 1] === vmId;
  } catch {
    return false;
  }
}

/** CPU time (user+system) of a process in clock ticks, for usage sampling. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

export function logTail(paths: RunPaths, bytes = 2048): string {
  try {
    const st = fs.statSync(paths.log);
    const fd = fs.openSync(paths.log, 'r');
    try {
      const len = Math.min(bytes, st.size);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, st.size - len);
      return buf.toString('utf8').trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until QEMU's QMP socket greets us. If QEMU dies first (bad argv, locked image, ...), the
 * error carries the tail of its log, which is what a user needs to see.
 */
export async function connectWhenReady(paths: RunPaths, pid: number, timeoutMs = 15_000): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      await sleep(50); // let QEMU's last words reach the log
      throw new ApiError('QEMU_FAILED', `QEMU exited during start-up: ${logTail(paths, 600) || 'no output'}`);
    }
    if (fs.existsSync(paths.qmp)) {
      try {
        return await QmpClient.connect(paths.qmp, { greetingTimeoutMs: 3000 });
      } catch (e) {
        lastErr = e;
      }
    }
    await sleep(25);
  }
  throw new ApiError('QEMU_FAILED', `QEMU did not open its QMP socket within ${timeoutMs} ms: ${(lastErr as Error)?.message ?? logTail(paths, 600)}`);
}

/** Waits for a pid to go away; SIGKILLs it after `graceMs`. Resolves true if it had to kill. */
export async function ensureDead(pid: number, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return false;
    await sleep(10);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(10);
  return true;
}

/** Removes everything in the run dir except the QEMU log (kept for the crash report). */
export function cleanRunDir(paths: RunPaths, keepLog: boolean): void {
  for (const p of [paths.qmp, paths.vnc, paths.serial, paths.pidfile, paths.live]) fs.rmSync(p, { force: true });
  if (!keepLog) fs.rmSync(paths.dir, { recursive: true, force: true });
}
