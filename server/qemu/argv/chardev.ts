/**
 * Character devices: the QMP monitor and the serial console, both unix sockets in the VM's private
 * run dir (never TCP). `server=on,wait=off` makes QEMU listen without blocking its start-up until
 * a client connects (QMP.md pitfall 10).
 *
 * The monitor is declared as -chardev + -mon (equivalent to -qmp, QMP.md §1.1) so its chardev id
 * is known. Serial output written while nobody is connected is dropped by QEMU (pitfall 19); the
 * serial hub keeps a reader attached for that reason.
 */
import type { RunPaths } from '../paths';
import { QMP_CHARDEV_ID, SERIAL_CHARDEV_ID } from './ids';
import { kv } from './opts';

function socketChardev(id: string, path: string): string {
  return kv('socket', { id, path, server: true, wait: false });
}

export function qmpArgs(paths: RunPaths): string[] {
  return ['-chardev', socketChardev(QMP_CHARDEV_ID, paths.qmp), '-mon', kv(null, { chardev: QMP_CHARDEV_ID, mode: 'control' })];
}

export function serialArgs(paths: RunPaths): string[] {
  return ['-chardev', socketChardev(SERIAL_CHARDEV_ID, paths.serial), '-serial', `chardev:${SERIAL_CHARDEV_ID}`];
}
