/**
 * Every golden fixture's argv must really start QEMU: this test builds each one (under TCG, with
 * -S, since KVM is not usable on these machines; the kvm-only lines are pinned by the golden files),
 * backs its volumes with real files from qemu-img, starts QEMU from the argument array, and asks
 * over QMP whether what the naming helpers promise exists: every root port, disk, NIC and vCPU id,
 * the built-in devices, the disks' format nodes, the CD-ROM medium, and VNC only with a display.
 *
 * Kernel-boot fixtures need a real bzImage; the test guest's (.cache/guest/vmlinuz, made by
 * scripts/build-test-guest.sh) or the host's /boot/vmlinuz-* is used, else those cases are skipped.
 * Fixtures with runAs run as "nobody" when the tests run as root.
 *
 * Run: node --import tsx --test test/unit/argv-qemu.test.ts
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  CDROM_ID,
  BALLOON_ID,
  SCSI_CONTROLLER_ID,
  VIDEO_ID,
  buildArgv,
  cdromMediaNode,
  cpuDeviceId,
  diskNodeNames,
  hasVnc,
  rootPortIds,
  type ArgvContext,
} from '../../server/qemu/argv';
import { QmpClient } from '../../server/qemu/qmp/client';
import { runPaths } from '../../server/qemu/paths';
import { type VmConfig, VmConfigSchema } from '../../lib/schemas/vm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/argv');
const QEMU = 'qemu-system-x86_64';
const haveQemu = spawnSync(QEMU, ['--version']).status === 0 && spawnSync('qemu-img', ['--version']).status === 0;

function findKernel(): string | null {
  const guest = path.join(ROOT, '.cache/guest/vmlinuz');
  if (fs.existsSync(guest)) return guest;
  try {
    const k = fs.readdirSync('/boot').find((f) => f.startsWith('vmlinuz-'));
    return k ? path.join('/boot', k) : null;
  } catch {
    return null;
  }
}
const kernel = findKernel();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'argv-qemu-'));
fs.chmodSync(tmp, 0o755); // readable for the -runas user
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Creates the files the config's volumes resolve to; returns the resolver. */
function backVolumes(config: VmConfig, dir: string): (ref: string) => string {
  const files = new Map<string, string>();
  const file = (ref: string) => path.join(dir, ref.replace('/', '__'));
  for (const d of config.disks) {
    const f = file(d.volume);
    const r = spawnSync('qemu-img', ['create', '-q', '-f', d.format, f, '16M']);
    assert.equal(r.status, 0, r.stderr.toString());
    files.set(d.volume, f);
  }
  if (config.cdrom) {
    fs.writeFileSync(file(config.cdrom), Buffer.alloc(1024 * 1024));
    files.set(config.cdrom, file(config.cdrom));
  }
  if (config.kernel) {
    files.set(config.kernel.kernel, kernel!);
    if (config.kernel.initrd) {
      fs.writeFileSync(file(config.kernel.initrd), Buffer.alloc(4096));
      files.set(config.kernel.initrd, file(config.kernel.initrd));
    }
  }
  for (const f of files.values()) if (f.startsWith(dir)) fs.chmodSync(f, 0o666);
  return (ref) => {
    const f = files.get(ref);
    assert.ok(f, `unexpected volume ${ref}`);
    return f;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * QEMU creates the socket file at bind() and listens a moment later, so a connect right after the
 * file appears can be refused: retry (as process.ts does) until QEMU answers or exits.
 */
async function connectWhenListening(sock: string, child: ChildProcess, stderr: () => string): Promise<QmpClient> {
  let last: unknown;
  for (let n = 0; n < 400; n++) {
    if (child.exitCode !== null) break;
    if (fs.existsSync(sock)) {
      try {
        return await QmpClient.connect(sock);
      } catch (e) {
        last = e;
      }
    }
    await sleep(25);
  }
  return assert.fail(`QEMU did not start: ${stderr()} ${(last as Error)?.message ?? ''}`);
}

const cases = fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).sort() : [];

for (const [i, name] of cases.entries()) {
  const dir = path.join(FIXTURES, name);
  const config = VmConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
  const ctxFile = path.join(dir, 'context.json');
  const fixtureCtx = fs.existsSync(ctxFile) ? (JSON.parse(fs.readFileSync(ctxFile, 'utf8')) as Partial<ArgvContext>) : {};
  const skip = !haveQemu ? `${QEMU} or qemu-img not installed` : config.kernel && !kernel ? 'no kernel image to boot' : false;

  test(`QEMU 7.2 starts the argv of ${name}`, { skip }, async (t) => {
    const vmDir = path.join(tmp, `v${i}`);
    fs.mkdirSync(vmDir, { mode: 0o755 });
    const paths = runPaths(vmDir, 'run');
    fs.mkdirSync(paths.dir, { mode: 0o777 });
    fs.chmodSync(paths.dir, 0o777);
    const runAs = fixtureCtx.runAs && process.getuid?.() === 0 ? 'nobody' : null;
    const argv = buildArgv(config, { paths, accel: 'tcg', resolveVolume: backVolumes(config, vmDir), runAs, startPaused: true });

    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const q = await connectWhenListening(paths.qmp, child, () => stderr);
    try {
      assert.equal((await q.execute('query-status')).status, 'prelaunch');

      const peripherals = new Set((await q.execute('qom-list', { path: '/machine/peripheral' })).map((p) => p.name));
      const expected = [
        ...rootPortIds(config),
        ...config.disks.map((d) => d.id),
        ...config.nics.map((n) => n.id),
        ...Array.from({ length: config.vcpus - 1 }, (_, k) => cpuDeviceId(k + 1)),
        CDROM_ID,
        BALLOON_ID,
        SCSI_CONTROLLER_ID,
        ...(hasVnc(config) ? [VIDEO_ID] : []),
      ];
      for (const id of expected) assert.ok(peripherals.has(id), `${id} missing from /machine/peripheral`);
      assert.equal(peripherals.has(VIDEO_ID), hasVnc(config));

      const blocks = await q.execute('query-block');
      const byDevice = new Map(blocks.map((b) => [b.qdev?.replace(/^\/machine\/peripheral\/([^/]+).*$/, '$1'), b]));
      for (const d of config.disks) {
        const inserted = byDevice.get(d.id)?.inserted;
        assert.equal(inserted?.['node-name'], diskNodeNames(d.id).fmt, `node of ${d.id}`);
        assert.equal(inserted?.ro, d.readonly);
      }
      const cd = byDevice.get(CDROM_ID);
      assert.equal(cd?.inserted?.['node-name'], config.cdrom ? cdromMediaNode() : undefined);

      assert.equal((await q.execute('query-vnc')).enabled, hasVnc(config));
      assert.equal((await q.execute('query-hotpluggable-cpus')).length, config.maxVcpus);

      await q.execute('quit');
    } finally {
      await q.close();
    }
    assert.equal(await exited, 0, stderr);
  });
}
