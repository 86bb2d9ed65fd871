/**
 * Host capabilities: QEMU version, the accelerator and why, CPUs, memory and free disk. KVM is
 * used only where /dev/kvm is usable AND kvm_intel or kvm_amd is loaded: some hosts (these test
 * machines among them) have a paravirtual kvm_pvm module whose /dev/kvm hangs stock guests, so a
 * bare /dev/kvm proves nothing. VMM_ACCEL overrides the choice.
 */
import fs from 'node:fs';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { HostInfo } from '../../lib/schemas/host';

const run = promisify(execFile);

export interface AccelChoice {
  chosen: 'kvm' | 'tcg';
  reason: string;
  emulated: boolean;
}

export interface AccelProbe {
  modules: string[];
  kvmUsable: boolean;
}

/** Pure decision, so it can be unit-tested for every host shape. */
export function chooseAccel(probe: AccelProbe, override: 'kvm' | 'tcg' | null): AccelChoice {
  const vendor = probe.modules.find((m) => m === 'kvm_intel' || m === 'kvm_amd');
  if (override === 'tcg') return { chosen: 'tcg', reason: 'VMM_ACCEL=tcg forces software emulation', emulated: true };
  if (override === 'kvm') return { chosen: 'kvm', reason: 'VMM_ACCEL=kvm forces KVM', emulated: false };
  if (!probe.kvmUsable) return { chosen: 'tcg', reason: '/dev/kvm is missing or not accessible, so guests run under software emulation (TCG)', emulated: true };
  if (vendor) return { chosen: 'kvm', reason: `/dev/kvm is usable and ${vendor} is loaded`, emulated: false };
  if (probe.modules.includes('kvm_pvm'))
    return { chosen: 'tcg', reason: '/dev/kvm is provided by kvm_pvm (paravirtual KVM), which cannot run stock guests; using software emulation (TCG)', emulated: true };
  return { chosen: 'tcg', reason: '/dev/kvm exists but neither kvm_intel nor kvm_amd is loaded; using software emulation (TCG)', emulated: true };
}

export function probeAccel(): AccelProbe {
  let modules: string[] = [];
  try {
    modules = fs.readdirSync('/sys/module').filter((m) => m.startsWith('kvm'));
  } catch {
    modules = [];
  }
  let kvmUsable = false;
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    kvmUsable = true;
  } catch {
    kvmUsable = false;
  }
  return { modules, kvmUsable };
}

export async function qemuVersion(binary: string): Promise<string | null> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 5000 });
    return /version\s+([0-9][^\s]*)/.exec(stdout)?.[1] ?? stdout.split('\n')[0];
  } catch {
    return null;
  }
}

export function memoryMiB(): { totalMiB: number; availableMiB: number } {
  try {
    const text = fs.readFileSync('/proc/meminfo', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { totalMiB: Math.floor(kb('MemTotal') / 1024), availableMiB: Math.floor(kb('MemAvailable') / 1024) };
  } catch {
    return { totalMiB: Math.floor(os.totalmem() / 2 ** 20), availableMiB: Math.floor(os.freemem() / 2 ** 20) };
  }
}

export class HostService {
  private versionCache: string | null | undefined;
  readonly accel: AccelChoice;

  constructor(private readonly opts: { qemuBinary: string; qemuImg: string; dataDir: string; accelOverride: 'kvm' | 'tcg' | null }) {
    this.accel = chooseAccel(probeAccel(), opts.accelOverride);
  }

  async info(): Promise<HostInfo> {
    if (this.versionCache === undefined) this.versionCache = await qemuVersion(this.opts.qemuBinary);
    const st = await fs.promises.statfs(this.opts.dataDir);
    return {
      hostname: os.hostname(),
      qemu: { binary: this.opts.qemuBinary, version: this.versionCache, imgBinary: this.opts.qemuImg },
      accel: this.accel,
      cpus: os.cpus().length,
      memory: memoryMiB(),
      disk: { path: this.opts.dataDir, totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize },
      load: os.loadavg(),
    };
  }
}
