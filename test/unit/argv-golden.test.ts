/**
 * Golden tests for the pure argv builder (DESIGN.md habit 1, Proxmox's cfg2cmd tests).
 *
 * Each directory in test/fixtures/argv/<case>/ holds:
 *   config.json    a VM config as stored (parsed with VmConfigSchema, so defaults may be omitted)
 *   context.json   optional ArgvContext overrides: {accel, runAs, qemuBinary, startPaused}
 *   expected.argv  the expected argv, one argument per line
 * The run dir is /run/vmm/<id> and volumes resolve to /var/lib/vmm/pools/<pool>/<file>.
 *
 * After an intended change to the builder, regenerate every expected.argv with
 *   UPDATE_GOLDEN=1 node --import tsx --test test/unit/argv-golden.test.ts
 * and review the diff: it names exactly which arguments changed for which kind of VM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildArgv, type ArgvContext } from '../../server/qemu/argv';
import { runPaths } from '../../server/qemu/paths';
import { VmConfigSchema } from '../../lib/schemas/vm';
import { parseVolumeRef } from '../../lib/schemas/common';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/argv');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

export function fixtureContext(id: string, overrides: Partial<ArgvContext>): ArgvContext {
  return {
    paths: runPaths('/run/vmm', id),
    accel: 'tcg',
    resolveVolume: (ref) => {
      const { pool, file } = parseVolumeRef(ref);
      return `/var/lib/vmm/pools/${pool}/${file}`;
    },
    ...overrides,
  };
}

const cases = fs
  .readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('there are at least 15 golden cases', () => {
  assert.ok(cases.length >= 15, `only ${cases.length} fixtures in ${FIXTURES}`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const dir = path.join(FIXTURES, name);
    const config = VmConfigSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const ctxFile = path.join(dir, 'context.json');
    const overrides = fs.existsSync(ctxFile) ? (JSON.parse(fs.readFileSync(ctxFile, 'utf8')) as Partial<ArgvContext>) : {};
    const argv = buildArgv(config, fixtureContext(config.id, overrides));
    const text = argv.join('\n') + '\n';
    const expectedFile = path.join(dir, 'expected.argv');
    if (UPDATE) {
      fs.writeFileSync(expectedFile, text);
      return;
    }
    assert.ok(fs.existsSync(expectedFile), `${expectedFile} is missing; run with UPDATE_GOLDEN=1 to create it`);
    const expected = fs.readFileSync(expectedFile, 'utf8').split('\n').slice(0, -1);
    // Comparing arrays makes assert print a per-argument diff.
    assert.deepEqual(argv, expected);
  });
}
