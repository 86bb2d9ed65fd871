/**
 * Display: the video adapter and the VNC server that shows it.
 *
 * - `-display none` always: QEMU must never try to open a local window (a stray $DISPLAY on a
 *   server would otherwise pull in GTK). It does not disable VNC, which is a separate listener.
 * - VNC listens only on a unix socket in the private run dir, with `password=on`: QEMU then offers
 *   only VNC auth, and nobody gets in before the console code sets a one-time password
 *   (set_password + expire_password, QMP.md §8.3). Never a TCP port.
 * - video 'none' means a headless VM: no adapter and no VNC server at all (VNC would only show an
 *   empty "no display" surface). The serial console is the way in; query-vnc reports
 *   enabled:false, which the console code can use to refuse a VNC ticket.
 */
import type { VmConfig } from '../../../lib/schemas/vm';
import type { RunPaths } from '../paths';
import { VIDEO_ID } from './ids';
import { fixedPlacement } from './devices';
import { device, kv } from './opts';

const VIDEO_DRIVERS = {
  std: 'VGA',
  virtio: 'virtio-vga',
} as const;

/** True if the VM has a VNC console. */
export function hasVnc(config: Pick<VmConfig, 'video'>): boolean {
  return config.video !== 'none';
}

export function displayArgs(config: VmConfig, paths: RunPaths): string[] {
  const args = ['-display', 'none'];
  if (config.video === 'none') return args;
  args.push('-vnc', kv(`unix:${paths.vnc}`, { password: true }));
  args.push(...device(VIDEO_DRIVERS[config.video], { id: VIDEO_ID, ...fixedPlacement(config.machine, 'video') }));
  return args;
}
