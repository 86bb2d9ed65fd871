#!/usr/bin/env node
/**
 * Preflight: makes sure the host has what the server (and, with --test, the test suite) needs.
 * As root on Debian it installs missing packages with apt-get, printing each command first;
 * otherwise it prints the exact command to run and exits non-zero. As root it also creates the
 * unprivileged user QEMU runs as (vmm-qemu). Spawns with argument arrays.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const forTests = process.argv.includes('--test');

function which(cmd) {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = `${dir}/${cmd}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 9)) {
  console.error(`preflight: Node ${process.versions.node} is too old; Node 20.9 or newer is needed.`);
  process.exit(1);
}

/** [package, a command it provides or null to check with dpkg] */
const wanted = [
  ['qemu-system-x86', 'qemu-system-x86_64'],
  ['qemu-utils', 'qemu-img'],
];
if (forTests) {
  wanted.push(
    ['chromium', 'chromium'],
    ['busybox-static', null],
    ['grub-pc-bin', null],
    ['grub-common', 'grub-mkrescue'],
    ['xorriso', 'xorriso'],
    ['mtools', 'mformat'],
    ['cpio', 'cpio'],
    ['kmod', 'depmod'],
    ['procps', 'ps'],
  );
}

/**
 * When the server runs as root, every QEMU drops to this unprivileged user (-runas). Create it if
 * it is missing: a system user with no home and no login shell.
 */
const qemuUser = process.env.VMM_QEMU_USER || 'vmm-qemu';
function ensureQemuUser() {
  if (process.getuid?.() !== 0) return;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(qemuUser)) {
    console.error(`preflight: VMM_QEMU_USER="${qemuUser}" is not a plain user name`);
    process.exit(1);
  }
  if (spawnSync('getent', ['passwd', qemuUser], { encoding: 'utf8' }).status === 0) return;
  const args = ['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', qemuUser];
  console.log(`preflight: creating the unprivileged QEMU user: ${args.join(' ')}`);
  const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`preflight: could not create the user; run: ${args.join(' ')}`);
    process.exit(1);
  }
}
ensureQemuUser();

/** Under KVM the QEMU user needs /dev/kvm: its group (kvm on Debian), added as a supplementary group. */
function ensureKvmGroup() {
  if (process.getuid?.() !== 0) return;
  if (spawnSync('getent', ['group', 'kvm'], { encoding: 'utf8' }).status !== 0) return;
  const groups = spawnSync('id', ['-nG', qemuUser], { encoding: 'utf8' }).stdout ?? '';
  if (groups.split(/\s+/).includes('kvm')) return;
  const args = ['usermod', '-aG', 'kvm', qemuUser];
  console.log(`preflight: letting the QEMU user use /dev/kvm: ${args.join(' ')}`);
  spawnSync(args[0], args.slice(1), { stdio: 'inherit' });
}
ensureKvmGroup();

const isDebian = fs.existsSync('/etc/debian_version');
const missing = wanted.filter(([pkg, cmd]) => (cmd ? !which(cmd) : !(isDebian && dpkgInstalled(pkg)))).map(([pkg]) => pkg);

if (missing.length === 0) {
  console.log(`preflight: ok (${wanted.map(([p]) => p).join(', ')})`);
  process.exit(0);
}

const isRoot = process.getuid?.() === 0;
if (!isDebian || !isRoot) {
  console.error(`preflight: missing: ${missing.join(', ')}`);
  console.error('preflight: install them with:');
  console.error(`  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}

function run(args) {
  console.log(`preflight: running: ${args.join(' ')}`);
  const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

console.log(`preflight: installing missing packages: ${missing.join(', ')}`);
if (!run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing])) {
  // Package lists may be absent or stale on a fresh machine.
  if (!run(['apt-get', 'update']) || !run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing])) {
    console.error(`preflight: apt-get failed; run: apt-get update && apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
}
console.log('preflight: ok');
