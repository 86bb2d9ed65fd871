/** Volume paths are confined to their pool: traversal, absolute paths and symlinks out are refused. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoragePools, probeImage } from '../../server/storage/pool';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-pool-'));
const pools = new StoragePools(dir, 'qemu-img');
pools.init();
const poolDir = path.join(dir, 'default');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a plain volume resolves inside the pool', () => {
  assert.equal(pools.resolve('default/a.qcow2'), path.join(poolDir, 'a.qcow2'));
});

for (const bad of ['default/../x', 'default/..', 'default/a/b', '/etc/passwd', 'default/', 'default/.hidden', 'Default/a', 'default/a,b', 'default/a\u0000b']) {
  test(`refuses ${JSON.stringify(bad)}`, () => {
    assert.throws(() => pools.resolve(bad), (e: any) => e.code === 'PATH_ESCAPE' || e.code === 'NOT_FOUND');
  });
}

test('an unknown pool is NOT_FOUND', () => {
  assert.throws(() => pools.resolve('other/a.qcow2'), (e: any) => e.code === 'NOT_FOUND');
});

test('a symlink inside the pool that leads out is refused', () => {
  fs.symlinkSync('/etc/passwd', path.join(poolDir, 'evil.img'));
  assert.throws(() => pools.resolve('default/evil.img'), (e: any) => e.code === 'PATH_ESCAPE');
});

test('creates a qcow2 with qemu-img and probes its virtual size', async () => {
  await pools.createQcow2('default', 'new.qcow2', 64);
  const p = path.join(poolDir, 'new.qcow2');
  const probe = probeImage(p, fs.statSync(p).size);
  assert.deepEqual(probe, { format: 'qcow2', virtualSize: 64 * 1024 * 1024 });
  await assert.rejects(pools.createQcow2('default', 'new.qcow2', 64), (e: any) => e.code === 'VOLUME_EXISTS');
  assert.deepEqual(fs.readdirSync(poolDir).filter((f) => f.endsWith('.creating')), [], 'no temp file left');
});

test('lists volumes with their format and users', () => {
  fs.writeFileSync(path.join(poolDir, 'raw.img'), Buffer.alloc(4096));
  const vols = pools.list('default', (ref) => (ref === 'default/raw.img' ? ['vm1'] : []));
  const raw = vols.find((v) => v.name === 'raw.img')!;
  assert.equal(raw.format, 'raw');
  assert.deepEqual(raw.usedBy, ['vm1']);
  assert.equal(vols.find((v) => v.name === 'new.qcow2')!.format, 'qcow2');
});
