/**
 * What may reach QEMU's command line: every user-controlled string in the argv must come from a
 * validated field, and nothing that could be mistaken for option syntax gets through.
 * - the schemas reject names, ids, volumes, MACs and command lines that could inject options;
 * - buildArgv re-validates (a caller cannot skip VmConfigSchema by casting);
 * - volume paths only appear inside -blockdev JSON or as the plain -kernel/-initrd argument, so
 *   even a resolver returning a path with commas cannot add an option;
 * - configs QEMU would refuse at start-up fail early with a stable error code;
 * - the builder is pure (same input, same output, no fs access).
 *
 * Run: node --import tsx --test test/unit/argv-validation.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArgv, isReservedDeviceId, type ArgvContext } from '../../server/qemu/argv';
import { runPaths } from '../../server/qemu/paths';
import { type VmConfig, VmConfigSchema } from '../../lib/schemas/vm';
import { ApiError } from '../../lib/errors';

const BASE = {
  id: '0c8a1d52-7e3f-4b6a-9d21-3f5e7a9b1c2d',
  name: 'taint-check',
  createdAt: '2026-01-01T00:00:00.000Z',
  vcpus: 2,
  maxVcpus: 4,
  memoryMiB: 512,
  maxMemoryMiB: 1024,
};

function config(over: Record<string, unknown> = {}): VmConfig {
  return VmConfigSchema.parse({ ...BASE, ...over });
}

function ctx(over: Partial<ArgvContext> = {}): ArgvContext {
  return { paths: runPaths('/run/vmm', BASE.id), accel: 'tcg', resolveVolume: (ref) => `/pools/${ref}`, ...over };
}

function throwsCode(fn: () => unknown, code: string): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('the schema rejects user strings that could inject QEMU options', () => {
  const bad: Record<string, unknown>[] = [
    { name: 'a,b' },
    { name: 'vm,debug-threads=off' },
    { name: '-vm' },
    { name: 'a b' },
    { name: 'a\nb' },
    { name: '' },
    { disks: [{ id: 'd,x', volume: 'default/a.qcow2' }] },
    { disks: [{ id: 'Disk0', volume: 'default/a.qcow2' }] },
    { disks: [{ id: 'disk-0', volume: 'default/a.qcow2' }] },
    { disks: [{ id: 'disk0', volume: 'default/a,b.qcow2' }] },
    { disks: [{ id: 'disk0', volume: 'default/../etc/passwd' }] },
    { disks: [{ id: 'disk0', volume: '/etc/passwd' }] },
    { disks: [{ id: 'disk0', volume: 'default/.hidden' }] },
    { cdrom: 'isos/a.iso,readonly=off' },
    { nics: [{ id: 'nic0', mac: '52:54:00:12:34:56,bus=x' }] },
    { nics: [{ id: 'nic0', mac: '53:54:00:12:34:56' }] }, // multicast
    { kernel: { kernel: 'g/vmlinuz', cmdline: 'console=ttyS0\n-device foo' } },
    { kernel: { kernel: 'g/vmlinuz', cmdline: 'x\u0000y' } },
    { machine: 'q35,accel=kvm' },
    { id: 'not-a-uuid' },
  ];
  for (const over of bad) {
    assert.equal(VmConfigSchema.safeParse({ ...BASE, ...over }).success, false, `accepted ${JSON.stringify(over)}`);
  }
});

test('buildArgv re-validates: a config that skipped the schema is refused', () => {
  const forged = { ...config(), name: 'evil,debug-threads=off' } as VmConfig;
  const err = throwsCode(() => buildArgv(forged, ctx()), 'VALIDATION_FAILED');
  assert.ok(Array.isArray((err.detail as { issues: unknown[] }).issues));
});

test('device ids of built-in devices are reserved', () => {
  for (const id of ['cd0', 'scsi0', 'rp1', 'rp17', 'cpu1', 'balloon0', 'video0', 'dimm0']) {
    assert.equal(isReservedDeviceId(id), true, id);
  }
  for (const id of ['disk0', 'nic0', 'rpx', 'cdrom', 'data1']) assert.equal(isReservedDeviceId(id), false, id);
  // The schema refuses them at the boundary...
  assert.equal(VmConfigSchema.safeParse({ ...BASE, disks: [{ id: 'cd0', volume: 'default/a.qcow2' }] }).success, false);
  assert.equal(VmConfigSchema.safeParse({ ...BASE, nics: [{ id: 'rp3', mac: '52:54:00:00:00:01' }] }).success, false);
  // ...and buildArgv still refuses a config that skipped the schema.
  const disk = { id: 'cd0', volume: 'default/a.qcow2', format: 'qcow2', bus: 'virtio', cache: 'writeback', readonly: false } as const;
  throwsCode(() => buildArgv({ ...config(), disks: [disk] }, ctx()), 'VALIDATION_FAILED');
  const nic = { id: 'rp3', model: 'virtio', mac: '52:54:00:00:00:01', network: 'user', linkUp: true } as const;
  throwsCode(() => buildArgv({ ...config(), nics: [nic] }, ctx()), 'VALIDATION_FAILED');
});

test('every user string lands only where it was meant to', () => {
  const c = config({
    disks: [
      { id: 'disk0', volume: 'default/root.qcow2' },
      { id: 'disk1', volume: 'default/data.raw', format: 'raw', bus: 'scsi' },
    ],
    cdrom: 'isos/install.iso',
    nics: [{ id: 'nic0', mac: '52:54:00:AA:BB:CC' }],
    kernel: { kernel: 'boot/vmlinuz', initrd: 'boot/initrd.img', cmdline: 'root=/dev/vda,x quiet' },
  });
  // A resolver returning hostile paths: commas, '=' and a leading dash must stay inert.
  const evil = (ref: string) => `/p/${ref.replace('/', '/-x,format=raw,')}`;
  const argv = buildArgv(c, ctx({ resolveVolume: evil }));
  const paths = ['default/root.qcow2', 'default/data.raw', 'isos/install.iso', 'boot/vmlinuz', 'boot/initrd.img'].map(evil);

  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    for (const p of paths) {
      if (!a.includes(p)) continue;
      const prev = argv[i - 1];
      if (prev === '-kernel' || prev === '-initrd') assert.equal(a, p);
      else {
        assert.equal(prev, '-blockdev', `path in ${prev} ${a}`);
        const filenames = JSON.stringify(JSON.parse(a)).match(/"filename":"[^"]*"/g);
        assert.ok(filenames?.includes(`"filename":${JSON.stringify(p)}`));
      }
    }
  }
  // The command line is exactly one element, after -append, and nowhere else.
  assert.equal(argv[argv.indexOf('-append') + 1], 'root=/dev/vda,x quiet');
  assert.equal(argv.filter((a) => a.includes('root=/dev/vda')).length, 1);
  // The MAC is normalised by the schema, the name appears once, inside -name.
  assert.ok(argv.some((a) => a.includes('mac=52:54:00:aa:bb:cc')));
  assert.deepEqual(argv.filter((a) => a.includes('taint-check')), ['guest=taint-check,debug-threads=on']);
  // No element contains a control character.
  assert.ok(argv.every((a) => !/[\x00-\x1f]/.test(a)));
});

test('run paths with commas are escaped the QEMU way (",,")', () => {
  const argv = buildArgv(config(), ctx({ paths: runPaths('/run/a,b', BASE.id) }));
  assert.ok(argv.includes(`socket,id=qmp,path=/run/a,,b/${BASE.id}/qmp.sock,server=on,wait=off`));
  assert.ok(argv.includes(`unix:/run/a,,b/${BASE.id}/vnc.sock,password=on`));
  assert.ok(argv.includes(`/run/a,b/${BASE.id}/qemu.pid`)); // -pidfile takes a plain path
});

test('-runas takes only a plain user name', () => {
  assert.throws(() => buildArgv(config(), ctx({ runAs: 'nobody,x' })));
  assert.throws(() => buildArgv(config(), ctx({ runAs: '-S' })));
  const argv = buildArgv(config(), ctx({ runAs: 'vmm' }));
  assert.equal(argv[argv.indexOf('-runas') + 1], 'vmm');
  assert.ok(argv.includes('on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny'));
});

test('configs QEMU would refuse fail early with stable codes', () => {
  const sata = (n: number, machine: string) =>
    config({ machine, disks: Array.from({ length: n }, (_, i) => ({ id: `disk${i}`, volume: `default/d${i}.qcow2`, bus: 'sata' })) });
  buildArgv(sata(5, 'q35'), ctx());
  buildArgv(sata(3, 'pc'), ctx());
  throwsCode(() => buildArgv(sata(6, 'q35'), ctx()), 'RESOURCE_LIMIT');
  throwsCode(() => buildArgv(sata(4, 'pc'), ctx()), 'RESOURCE_LIMIT');
  const ro = config({ disks: [{ id: 'disk0', volume: 'default/a.qcow2', bus: 'sata', readonly: true }] });
  throwsCode(() => buildArgv(ro, ctx()), 'VALIDATION_FAILED');
  // 1 TiB of max memory does not fit a 40-bit guest address space (measured on QEMU 7.2).
  const huge = config({ memoryMiB: 1024, maxMemoryMiB: 1024 * 1024 });
  const err = throwsCode(() => buildArgv(huge, ctx()), 'RESOURCE_LIMIT');
  assert.deepEqual((err.detail as { path: string[] }).path, ['maxMemoryMiB']);
  buildArgv(config({ memoryMiB: 1024, maxMemoryMiB: 960 * 1024 }), ctx());
});

test('buildArgv is pure: same input, same output, no file access', () => {
  const c = config({ disks: [{ id: 'disk0', volume: 'nowhere/missing.qcow2' }], cdrom: 'nowhere/missing.iso' });
  const calls: string[] = [];
  const a = buildArgv(c, ctx({ resolveVolume: (r) => (calls.push(r), `/does/not/exist/${r}`) }));
  const b = buildArgv(structuredClone(c), ctx({ resolveVolume: (r) => `/does/not/exist/${r}` }));
  assert.deepEqual(a, b);
  assert.deepEqual(calls, ['nowhere/missing.qcow2', 'nowhere/missing.iso']);
});
