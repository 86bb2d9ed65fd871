/**
 * Storage pools: a pool is a directory, a file in it is a volume, referenced as `<pool>/<file>`.
 * Every path the server hands to QEMU or qemu-img comes from `resolve`, which confines it to the
 * pool directory (also through symlinks) and refuses anything that escapes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { ApiError } from '../../lib/errors';
import { VOLUME_FILE_RE, VOLUME_REF_RE } from '../../lib/schemas/common';
import type { Volume } from '../../lib/schemas/pool';
import { ensureDir } from '../store/atomic';

export const DEFAULT_POOL = 'default';

export class StoragePools {
  constructor(private readonly poolsDir: string, private readonly qemuImg: string) {}

  init(): void {
    ensureDir(this.poolsDir, 0o755);
    ensureDir(this.poolDir(DEFAULT_POOL), 0o755);
    for (const name of fs.readdirSync(this.poolDir(DEFAULT_POOL))) {
      // Half-created volumes from a crash during qemu-img create.
      if (name.startsWith('.') && name.endsWith('.creating')) fs.rmSync(path.join(this.poolDir(DEFAULT_POOL), name), { force: true });
    }
  }

  poolDir(pool: string): string {
    if (pool !== DEFAULT_POOL) throw new ApiError('NOT_FOUND', `No storage pool named "${pool}"`);
    return path.join(this.poolsDir, pool);
  }

  /** `<pool>/<file>` → absolute path inside that pool, or PATH_ESCAPE. */
  resolve(ref: string): string {
    const m = VOLUME_REF_RE.exec(ref);
    if (!m || m[2].includes('..')) throw new ApiError('PATH_ESCAPE', `"${ref}" is not a volume inside a storage pool`);
    return this.resolveIn(m[1], m[2]);
  }

  resolveIn(pool: string, file: string): string {
    if (!VOLUME_FILE_RE.test(file) || file.includes('..')) throw new ApiError('PATH_ESCAPE', `"${file}" is not a valid volume name`);
    const dir = this.poolDir(pool);
    const full = path.resolve(dir, file);
    if (path.dirname(full) !== dir) throw new ApiError('PATH_ESCAPE', `"${file}" escapes the pool`);
    // A symlink inside the pool must not lead out of it.
    try {
      const real = fs.realpathSync(full);
      const realDir = fs.realpathSync(dir);
      if (!real.startsWith(realDir + path.sep)) throw new ApiError('PATH_ESCAPE', `"${file}" links outside the pool`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return full;
  }

  exists(ref: string): boolean {
    return fs.existsSync(this.resolve(ref));
  }

  requireVolume(ref: string): string {
    const p = this.resolve(ref);
    if (!fs.existsSync(p)) throw new ApiError('VOLUME_NOT_FOUND', `Volume "${ref}" does not exist`);
    return p;
  }

  list(pool: string, usedBy: (ref: string) => string[]): Volume[] {
    const dir = this.poolDir(pool);
    const out: Volume[] = [];
    for (const name of fs.readdirSync(dir).sort()) {
      if (!VOLUME_FILE_RE.test(name)) continue;
      const full = path.join(dir, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(full);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const ref = `${pool}/${name}`;
      const probe = probeImage(full, st.size);
      out.push({
        pool,
        name,
        ref,
        format: probe.format,
        sizeBytes: st.size,
        allocatedBytes: st.blocks * 512,
        virtualSizeBytes: probe.virtualSize,
        modifiedAt: st.mtime.toISOString(),
        usedBy: usedBy(ref),
      });
    }
    return out;
  }

  get(ref: string, usedBy: (ref: string) => string[]): Volume {
    const { pool, file } = splitRef(ref);
    this.requireVolume(ref);
    const v = this.list(pool, usedBy).find((x) => x.name === file);
    if (!v) throw new ApiError('VOLUME_NOT_FOUND', `Volume "${ref}" does not exist`);
    return v;
  }

  /** Creates a qcow2. Written under a temp name and renamed, so a crash never leaves half an image. */
  async createQcow2(pool: string, file: string, sizeMiB: number): Promise<string> {
    const full = this.resolveIn(pool, file);
    if (fs.existsSync(full)) throw new ApiError('VOLUME_EXISTS', `Volume "${pool}/${file}" already exists`);
    const tmp = path.join(path.dirname(full), `.${file}.${process.pid}.creating`);
    try {
      await new Promise<void>((resolve, reject) =>
        execFile(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', tmp, `${sizeMiB}M`], { timeout: 60_000 }, (err, _o, stderr) => {
          if (!err) return resolve();
          const why = (stderr || err.message).trim();
          reject(
            /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT/i.test(why)
              ? new ApiError('STORAGE_FULL', `Pool "${pool}" is full: there is no room for "${file}" (${freeSpace(path.dirname(full))}). Free some space and try again`, { pool, file, qemuImg: why })
              : new ApiError('STORAGE_FAILED', `qemu-img could not create the volume: ${why}`),
          );
        }),
      );
      fs.renameSync(tmp, full);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new ApiError('STORAGE_FULL', `Pool "${pool}" is full: there is no room for "${file}" (${freeSpace(path.dirname(full))})`, { pool, file });
      throw e;
    }
    return `${pool}/${file}`;
  }

  remove(ref: string): void {
    const full = this.requireVolume(ref);
    fs.rmSync(full);
  }
}

/** "N MiB free of M MiB", for error messages; empty-handed if the file system will not say. */
function freeSpace(dir: string): string {
  try {
    const st = fs.statfsSync(dir);
    const mib = (blocks: number) => Math.floor((blocks * st.bsize) / (1024 * 1024));
    return `${mib(st.bavail)} MiB free of ${mib(st.blocks)} MiB`;
  } catch {
    return 'free space unknown';
  }
}

export function splitRef(ref: string): { pool: string; file: string } {
  const m = VOLUME_REF_RE.exec(ref);
  if (!m) throw new ApiError('PATH_ESCAPE', `"${ref}" is not a volume reference`);
  return { pool: m[1], file: m[2] };
}

/** Reads just enough of the header to tell qcow2, ISO 9660 and raw apart, without spawning qemu-img. */
export function probeImage(file: string, size: number): { format: 'qcow2' | 'raw' | 'iso'; virtualSize: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(32);
    fs.readSync(fd, head, 0, 32, 0);
    if (head.readUInt32BE(0) === 0x514649fb) return { format: 'qcow2', virtualSize: Number(head.readBigUInt64BE(24)) };
    const iso = Buffer.alloc(5);
    if (size > 0x8006 && fs.readSync(fd, iso, 0, 5, 0x8001) === 5 && iso.toString('latin1') === 'CD001') return { format: 'iso', virtualSize: size };
    return { format: 'raw', virtualSize: size };
  } finally {
    fs.closeSync(fd);
  }
}
