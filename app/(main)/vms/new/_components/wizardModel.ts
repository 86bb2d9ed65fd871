/**
 * The wizard's form model: defaults per OS preset, per-step validation, the POST /api/vms body, and
 * where each field lives (so a server error re-opens the right step). Pure functions; the
 * component in CreateVmWizard.tsx holds the state.
 */
import { CreateVmSchema, MAX_VCPUS, MIN_MEMORY_MIB, vmName, macAddress, type CreateVm, type HostInfo } from '@/lib/schemas';
import type { ValidationIssue } from '@/components/api';

export type Preset = 'linux' | 'windows' | 'other';
export type Media = 'iso' | 'import' | 'kernel';

export const PRESETS: Record<Preset, { label: string; machine: 'q35' | 'pc'; diskBus: 'virtio' | 'scsi' | 'sata'; nicModel: 'virtio' | 'e1000'; video: 'std' | 'virtio' | 'none'; blurb: string }> = {
  linux: { label: 'Linux', machine: 'q35', diskBus: 'virtio', nicModel: 'virtio', video: 'std', blurb: 'q35, virtio disk and network' },
  windows: { label: 'Windows', machine: 'q35', diskBus: 'sata', nicModel: 'e1000', video: 'std', blurb: 'q35, SATA disk, e1000 network (no extra drivers)' },
  other: { label: 'Other', machine: 'pc', diskBus: 'sata', nicModel: 'e1000', video: 'std', blurb: 'i440FX, SATA disk, e1000: the most compatible' },
};

export interface WizardForm {
  name: string;
  osPreset: Preset;
  machine: 'q35' | 'pc';
  diskBus: 'virtio' | 'scsi' | 'sata';
  video: 'std' | 'virtio' | 'none';
  media: Media;
  iso: string;
  importVolume: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  vcpus: string;
  maxVcpus: string;
  memoryMiB: string;
  maxMemoryMiB: string;
  diskMode: 'new' | 'none';
  diskSize: string;
  diskUnit: 'GiB' | 'MiB';
  network: boolean;
  nicModel: 'virtio' | 'e1000';
  mac: string;
  start: boolean;
}

export const INITIAL: WizardForm = {
  name: '',
  osPreset: 'linux',
  ...pick(PRESETS.linux),
  media: 'iso',
  iso: '',
  importVolume: '',
  kernel: '',
  initrd: '',
  cmdline: 'console=ttyS0',
  vcpus: '1',
  maxVcpus: '4',
  memoryMiB: '512',
  maxMemoryMiB: '2048',
  diskMode: 'new',
  diskSize: '10',
  diskUnit: 'GiB',
  network: true,
  nicModel: 'virtio',
  mac: '',
  start: true,
};

export function pick(p: (typeof PRESETS)[Preset]) {
  return { machine: p.machine, diskBus: p.diskBus, video: p.video };
}

export const STEPS = ['Name & install media', 'CPUs & memory', 'Storage', 'Network', 'Summary'] as const;

/** Which step holds each error key. */
export const FIELD_STEP: Record<string, number> = {
  name: 0, osPreset: 0, machine: 0, video: 0, diskBus: 0, media: 0, iso: 0, importVolume: 0, kernel: 0, initrd: 0, cmdline: 0, bootOrder: 0,
  vcpus: 1, maxVcpus: 1, memoryMiB: 1, maxMemoryMiB: 1,
  diskSize: 2,
  nicModel: 3, mac: 3,
};

export type Errors = Record<string, string>;

function int(s: string): number | null {
  return /^\d+$/.test(s.trim()) ? Number(s.trim()) : null;
}

export function diskSizeMiB(f: WizardForm): number | null {
  const n = Number(f.diskSize.trim());
  if (!f.diskSize.trim() || !Number.isFinite(n) || n <= 0) return null;
  return Math.round(f.diskUnit === 'GiB' ? n * 1024 : n);
}

/** Client-side checks of one step. `takenNames` are the VMs we already know. */
export function validateStep(step: number, f: WizardForm, ctx: { takenNames: Set<string>; host: HostInfo | null }): Errors {
  const e: Errors = {};
  if (step === 0) {
    const n = vmName.safeParse(f.name.trim());
    if (!f.name.trim()) e.name = 'Give the VM a name';
    else if (!n.success) e.name = n.error.issues[0].message;
    else if (ctx.takenNames.has(f.name.trim())) e.name = `A VM named "${f.name.trim()}" already exists`;
    if (f.media === 'iso' && !f.iso) e.iso = 'Pick an ISO image';
    if (f.media === 'import' && !f.importVolume) e.importVolume = 'Pick the disk image to import';
    if (f.media === 'kernel' && !f.kernel) e.kernel = 'Pick the kernel image';
    if (f.media === 'kernel' && /[^\x20-\x7e]/.test(f.cmdline)) e.cmdline = 'Printable ASCII characters only';
  }
  if (step === 1) {
    const v = int(f.vcpus);
    const mv = int(f.maxVcpus);
    const m = int(f.memoryMiB);
    const mm = int(f.maxMemoryMiB);
    if (v === null || v < 1) e.vcpus = 'At least 1 vCPU';
    else if (v > MAX_VCPUS) e.vcpus = `At most ${MAX_VCPUS}`;
    if (mv === null || mv < 1) e.maxVcpus = 'At least 1';
    else if (mv > MAX_VCPUS) e.maxVcpus = `At most ${MAX_VCPUS}`;
    if (!e.vcpus && !e.maxVcpus && v! > mv!) e.vcpus = `vCPUs (${v}) cannot exceed max vCPUs (${mv})`;
    if (m === null) e.memoryMiB = 'Enter the memory in MiB';
    else if (m < MIN_MEMORY_MIB) e.memoryMiB = `At least ${MIN_MEMORY_MIB} MiB`;
    else if (ctx.host && m > ctx.host.memory.totalMiB) e.memoryMiB = `At most ${ctx.host.memory.totalMiB} MiB on this host`;
    if (mm === null) e.maxMemoryMiB = 'Enter the max memory in MiB';
    else if (mm < MIN_MEMORY_MIB) e.maxMemoryMiB = `At least ${MIN_MEMORY_MIB} MiB`;
    if (!e.memoryMiB && !e.maxMemoryMiB && m! > mm!) e.memoryMiB = `Memory (${m} MiB) cannot exceed max memory (${mm} MiB)`;
  }
  if (step === 2 && f.diskMode === 'new') {
    const s = diskSizeMiB(f);
    if (s === null) e.diskSize = 'Enter a size greater than 0';
    else if (s > 16 * 1024 * 1024) e.diskSize = 'At most 16 TiB';
  }
  if (step === 3 && f.network && f.mac.trim()) {
    const r = macAddress.safeParse(f.mac.trim());
    if (!r.success) e.mac = r.error.issues[0].message;
  }
  return e;
}

export function buildBody(f: WizardForm): CreateVm {
  const disks: CreateVm['disks'] = [];
  if (f.media === 'import') disks.push({ volume: f.importVolume, bus: f.diskBus });
  if (f.diskMode === 'new') disks.push({ sizeMiB: diskSizeMiB(f) ?? 0, bus: f.diskBus });
  return {
    name: f.name.trim(),
    osPreset: f.osPreset,
    machine: f.machine,
    video: f.video,
    vcpus: Number(f.vcpus),
    maxVcpus: Number(f.maxVcpus),
    memoryMiB: Number(f.memoryMiB),
    maxMemoryMiB: Number(f.maxMemoryMiB),
    disks,
    cdrom: f.media === 'iso' ? f.iso : null,
    bootOrder: f.media === 'iso' ? ['cdrom', 'disk'] : ['disk', 'cdrom'],
    nics: f.network ? [{ model: f.nicModel, network: 'user', ...(f.mac.trim() ? { mac: f.mac.trim() } : {}) }] : [],
    kernel: f.media === 'kernel' ? { kernel: f.kernel, initrd: f.initrd || null, cmdline: f.cmdline } : null,
    start: f.start,
  };
}

/** Turn issues on the POST body (client zod or server) into wizard field errors. */
export function issuesToFields(issues: ValidationIssue[], f: WizardForm): { errors: Errors; rest: string[] } {
  const errors: Errors = {};
  const rest: string[] = [];
  for (const i of issues) {
    const [head, idx, leaf] = i.path;
    let key: string | null = null;
    if (typeof head === 'string' && head in FIELD_STEP) key = head;
    else if (head === 'disks') key = f.media === 'import' && idx === 0 ? 'importVolume' : 'diskSize';
    else if (head === 'nics') key = leaf === 'model' ? 'nicModel' : 'mac';
    else if (head === 'cdrom') key = 'iso';
    else if (head === 'kernel') key = leaf === 'initrd' ? 'initrd' : leaf === 'cmdline' ? 'cmdline' : 'kernel';
    if (key && !errors[key]) errors[key] = i.message;
    else if (!key) rest.push(i.message);
  }
  return { errors, rest };
}

export function clientCheckBody(f: WizardForm): { errors: Errors; rest: string[] } | null {
  const r = CreateVmSchema.safeParse(buildBody(f));
  if (r.success) return null;
  return issuesToFields(
    r.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })),
    f,
  );
}

export function firstStepWithError(errors: Errors): number | null {
  const steps = Object.keys(errors).map((k) => FIELD_STEP[k] ?? 0);
  return steps.length ? Math.min(...steps) : null;
}
