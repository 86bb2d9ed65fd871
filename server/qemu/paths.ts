/**
 * Where a VM's runtime files live. Every VM gets a private directory (mode 0700) under the run dir;
 * QMP, VNC and serial only ever listen on unix sockets inside it. Names are short because unix
 * socket paths are limited to 107 bytes.
 */
import path from 'node:path';

export interface RunPaths {
  /** The VM's private run directory, mode 0700. */
  dir: string;
  qmp: string;
  vnc: string;
  serial: string;
  pidfile: string;
  /** QEMU's stdout/stderr. */
  log: string;
  /** The config the running QEMU was started with, plus live changes (JSON). */
  live: string;
}

/** Unix socket paths longer than this do not fit in sockaddr_un. */
export const MAX_SOCKET_PATH = 107;

export function runPaths(runDir: string, vmId: string): RunPaths {
  const dir = path.join(runDir, vmId);
  return {
    dir,
    qmp: path.join(dir, 'qmp.sock'),
    vnc: path.join(dir, 'vnc.sock'),
    serial: path.join(dir, 'serial.sock'),
    pidfile: path.join(dir, 'qemu.pid'),
    log: path.join(dir, 'qemu.log'),
    live: path.join(dir, 'live.json'),
  };
}
