/**
 * The unprivileged identity QEMU runs under when the server runs as root (libvirt's DAC model,
 * reduced to one dedicated user): `-runas vmm-qemu` (see qemu/argv/sandbox.ts), created by
 * scripts/preflight.mjs. QEMU opens its sockets, pidfile and boot-time images as root and then
 * drops to the user for good, so everything it opens LATER must be reachable by that user:
 *
 * - the VM's run dir (screendumps, socket cleanup at exit): owned by the user, mode 0700;
 * - the data dir, run dir and pools dir: traversable by the user's group only (0710, root:vmm-qemu),
 *   so other local users cannot even reach the images; files the user must not read stay 0600 root;
 * - disk images: writable ones owned by the user (0600), read-only ones (ISO, kernel, read-only
 *   disks) readable by its group (0640 root:vmm-qemu); hotplugged volumes get the same treatment
 *   before blockdev-add (`handVolumeToQemu`).
 *
 * Because the user owns the run dir while QEMU runs, a compromised QEMU could leave symlinks or hard
 * links there for the root server to write through at the next start; `reclaimRunDir` takes the
 * directory back and removes anything that is not a plain, single-linked file before the server
 * touches it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../lib/errors';
import { limits } from './limits';

export interface QemuIdentity {
  name: string;
  uid: number;
  gid: number;
}

let cached: { identity: QemuIdentity | null; at: number } | null = null;

function lookupUser(name: string): QemuIdentity | null {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 7) return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no /etc/passwd: treat as missing */
  }
  return null;
}

export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The identity QEMU must run as, or null when the server is not root (QEMU then simply runs as the
 * server's own unprivileged user). Throws when root and the user is missing: starting guests as
 * root is not an acceptable fallback.
 */
export function qemuIdentity(): QemuIdentity | null {
  if (!runningAsRoot()) return null;
  const now = Date.now();
  if (cached && (cached.identity || now - cached.at < 5000)) return requireIdentity(cached.identity);
  const identity = lookupUser(limits().qemuUser);
  cached = { identity, at: now };
  return requireIdentity(identity);
}

function requireIdentity(id: QemuIdentity | null): QemuIdentity {
  if (id && id.uid !== 0) return id;
  const name = limits().qemuUser;
  throw new ApiError(
    'QEMU_FAILED',
    id
      ? `The QEMU user "${name}" has uid 0; it must be an unprivileged user`
      : `The server runs as root but the unprivileged QEMU user "${name}" does not exist; run scripts/preflight.mjs (npm start does) or: useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`,
  );
}

/** Directories on the way to the images and run dirs: group-traversable for the QEMU user. */
export function openPathForQemu(dirs: string[], id: QemuIdentity): void {
  for (const d of dirs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    if (st.uid === 0 && st.gid !== id.gid) fs.chownSync(d, 0, id.gid);
    // Keep what the owner has; the group gets search only, others nothing.
    const mode = (st.mode & 0o700) | 0o010;
    if ((st.mode & 0o777) !== mode) fs.chmodSync(d, mode);
  }
}

/**
 * Before the server prepares a VM's run dir: take it back from the QEMU user and remove what a
 * compromised QEMU could have planted (symlinks, hard links, FIFOs, directories).
 */
export function reclaimRunDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) {
    fs.rmSync(dir, { force: true });
    return;
  }
  fs.chownSync(dir, 0, 0);
  fs.chmodSync(dir, 0o700);
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const e = fs.lstatSync(p);
    const plain = (e.isFile() && e.nlink === 1) || e.isSocket();
    if (!plain) fs.rmSync(p, { recursive: true, force: true });
  }
}

/** After the server prepared the run dir: hand it to the QEMU user (QEMU's own files stay root's). */
export function handRunDirToQemu(dir: string, id: QemuIdentity): void {
  fs.chownSync(dir, id.uid, id.gid);
  fs.chmodSync(dir, 0o700);
}

/**
 * Lets QEMU (running as the user) open an image later, e.g. on hotplug. Writable: owned by the user,
 * 0600. Read-only: group-readable (0640, root:user) unless the user owns it already (another VM may
 * have it as a writable disk). A symlink is never followed to change something outside the pool:
 * the caller passes the path StoragePools.resolve confined.
 */
export function handVolumeToQemu(file: string, mode: 'rw' | 'ro', id: QemuIdentity | null = qemuIdentity()): void {
  if (!id) return;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return; // missing: the caller reports that with its own error
  }
  if (!st.isFile()) return;
  if (mode === 'rw') {
    if (st.uid !== id.uid || st.gid !== id.gid) fs.chownSync(file, id.uid, id.gid);
    if ((st.mode & 0o777) !== 0o600) fs.chmodSync(file, 0o600);
    return;
  }
  if (st.uid === id.uid) return;
  if (st.gid !== id.gid) fs.chownSync(file, st.uid, id.gid);
  if ((st.mode & 0o777) !== 0o640) fs.chmodSync(file, 0o640);
}

/** The images a VM config makes QEMU open, and how. */
export function qemuVolumes(
  c: { disks: { volume: string; readonly?: boolean }[]; cdrom?: string | null; kernel?: { kernel: string; initrd?: string | null } | null },
  resolve: (ref: string) => string,
): { file: string; mode: 'rw' | 'ro' }[] {
  const out: { file: string; mode: 'rw' | 'ro' }[] = c.disks.map((d) => ({ file: resolve(d.volume), mode: d.readonly ? 'ro' : 'rw' }));
  for (const ref of [c.cdrom, c.kernel?.kernel, c.kernel?.initrd]) if (ref) out.push({ file: resolve(ref), mode: 'ro' });
  return out;
}

/** Everything a VM start needs for QEMU to work after it dropped to the user. */
export function confineVmForQemu(id: QemuIdentity, f: { dirs: string[]; runDir: string; volumes: { file: string; mode: 'rw' | 'ro' }[] }): void {
  openPathForQemu([...f.dirs, ...new Set(f.volumes.map((v) => path.dirname(v.file)))], id);
  handRunDirToQemu(f.runDir, id);
  for (const v of f.volumes) handVolumeToQemu(v.file, v.mode, id);
}
