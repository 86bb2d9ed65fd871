/** VM config store: atomic writes, validation on load, corrupt files reported and left alone. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VmStore } from '../../server/store/vmstore';
import { writeJsonAtomic } from '../../server/store/atomic';
import { VmConfigSchema } from '../../lib/schemas/vm';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function config(name: string) {
  return VmConfigSchema.parse({ id: crypto.randomUUID(), name, createdAt: new Date().toISOString(), vcpus: 1, maxVcpus: 2, memoryMiB: 256, maxMemoryMiB: 512 });
}

test('save then load round-trips, and writes leave no temp files', () => {
  const store = new VmStore(dir);
  store.load();
  const c = store.save(config('alpha'));
  const again = new VmStore(dir);
  again.load();
  assert.deepEqual(again.get(c.id), c);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('a corrupt file is reported, not dropped or overwritten', () => {
  const id = crypto.randomUUID();
  const file = path.join(dir, `${id}.json`);
  fs.writeFileSync(file, '{"id": "half a file');
  const store = new VmStore(dir);
  store.load();
  assert.equal(store.get(id), undefined);
  assert.ok(store.problems.some((p) => p.file === file && /unreadable/.test(p.message)));
  assert.equal(fs.readFileSync(file, 'utf8'), '{"id": "half a file', 'left for a human to fix');
  fs.rmSync(file);
});

test('a file that fails the schema is reported with the field', () => {
  const c = config('beta');
  const file = path.join(dir, `${c.id}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...c, vcpus: 9, maxVcpus: 2 }));
  const store = new VmStore(dir);
  store.load();
  assert.ok(store.problems.some((p) => p.file === file && /vcpus/.test(p.message)));
  fs.rmSync(file);
});

test('stale temp files from an interrupted write are cleaned on load', () => {
  fs.writeFileSync(path.join(dir, '.x.json.123.abcd.tmp'), 'partial');
  new VmStore(dir).load();
  assert.equal(fs.existsSync(path.join(dir, '.x.json.123.abcd.tmp')), false);
});

test('writeJsonAtomic replaces a file whole', () => {
  const f = path.join(dir, 'atomic.json');
  writeJsonAtomic(f, { a: 1 });
  writeJsonAtomic(f, { a: 2 });
  assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { a: 2 });
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
});

test('writeJsonAtomic without fsync (live.json) still replaces whole and leaves no temp file', () => {
  const d = path.join(dir, 'nondurable');
  fs.mkdirSync(d);
  const f = path.join(d, 'live.json');
  const calls: string[] = [];
  const orig = fs.fsyncSync;
  (fs as { fsyncSync: typeof fs.fsyncSync }).fsyncSync = (fd) => {
    calls.push('fsync');
    return orig(fd);
  };
  try {
    writeJsonAtomic(f, { a: 1 }, 0o600, { durable: false });
    writeJsonAtomic(f, { a: 2, big: 'x'.repeat(100_000) }, 0o600, { durable: false });
    assert.equal(calls.length, 0, 'no fsync');
    writeJsonAtomic(f, { a: 3 });
    assert.equal(calls.length, 2, 'the default is durable: the file and its directory');
  } finally {
    (fs as { fsyncSync: typeof fs.fsyncSync }).fsyncSync = orig;
  }
  assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { a: 3 });
  assert.deepEqual(fs.readdirSync(d), ['live.json']);
});
