#!/usr/bin/env node
/**
 * `npm test`: installs what the tests need (QEMU, Chromium, the test guest, npm deps, the built
 * UI), then runs unit, integration (real QEMU) and Playwright e2e tests, and ends with the line
 * `N passed, N failed` that CI reads. `--only unit|integration|e2e` runs one stage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, ensureBuild, ensureDeps, mustRun, run } from './lib.mjs';

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const stages = only ? [only] : ['unit', 'integration', 'e2e'];
const t0 = Date.now();

mustRun(process.execPath, [path.join(ROOT, 'scripts', 'preflight.mjs'), '--test']);
ensureDeps();
if (stages.some((s) => s !== 'unit')) mustRun('bash', [path.join(ROOT, 'scripts', 'build-test-guest.sh')]);
if (stages.includes('e2e')) ensureBuild();

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmm-test-'));
const totals = { passed: 0, failed: 0, skipped: 0, failures: [] };

function listTests(dir, suffix) {
  const full = path.join(ROOT, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full).filter((f) => f.endsWith(suffix)).sort().map((f) => path.join(dir, f));
}

function nodeStage(name, files, concurrency) {
  if (files.length === 0) return;
  console.log(`\n=== ${name}: ${files.length} file(s) ===`);
  const countFile = path.join(outDir, `${name}.json`);
  const code = run(process.execPath, [
    '--import', 'tsx', '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(ROOT, 'scripts', 'count-reporter.mjs')}`, `--test-reporter-destination=${countFile}`,
    ...files,
  ]);
  let counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  try {
    counts = JSON.parse(fs.readFileSync(countFile, 'utf8'));
  } catch {
    counts.failed = 1;
    counts.failures = [`${name}: the test runner produced no results (exit ${code})`];
  }
  if (code !== 0 && counts.failed === 0) {
    counts.failed = 1;
    counts.failures.push(`${name}: the test runner exited with ${code}`);
  }
  add(counts);
}

function e2eStage() {
  const files = listTests('e2e', '.spec.ts');
  if (files.length === 0) return;
  console.log(`\n=== e2e: ${files.length} file(s) ===`);
  const jsonFile = path.join(outDir, 'e2e.json');
  const code = run(process.execPath, [path.join(ROOT, 'node_modules', '@playwright', 'test', 'cli.js'), 'test', '--reporter=list,json'], {
    env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: jsonFile },
  });
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  try {
    const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    counts.passed = (report.stats?.expected ?? 0) + (report.stats?.flaky ?? 0);
    counts.failed = report.stats?.unexpected ?? 0;
    counts.skipped = report.stats?.skipped ?? 0;
    if (report.errors?.length && counts.failed === 0) {
      counts.failed = report.errors.length;
      counts.failures.push(...report.errors.map((e) => `e2e: ${String(e.message ?? e).split('\n')[0]}`));
    }
  } catch {
    counts.failed = 1;
    counts.failures.push(`e2e: Playwright produced no report (exit ${code})`);
  }
  if (code !== 0 && counts.failed === 0) {
    counts.failed = 1;
    counts.failures.push(`e2e: Playwright exited with ${code}`);
  }
  add(counts);
}

function add(c) {
  totals.passed += c.passed;
  totals.failed += c.failed;
  totals.skipped += c.skipped;
  totals.failures.push(...(c.failures ?? []));
}

/** The whole tree (server, tests, pages) must type-check; counted as one test. */
function typecheckStage() {
  console.log('\n=== typecheck: tsc --noEmit ===');
  const code = run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', 'tsconfig.json']);
  add(code === 0 ? { passed: 1, failed: 0, skipped: 0, failures: [] } : { passed: 0, failed: 1, skipped: 0, failures: ['typecheck: tsc --noEmit reported errors'] });
}

for (const stage of stages) {
  if (stage === 'unit') typecheckStage();
  if (stage === 'unit') nodeStage('unit', listTests('test/unit', '.test.ts'), 2);
  else if (stage === 'integration') nodeStage('integration', listTests('test/integration', '.test.ts'), 2);
  else if (stage === 'e2e') e2eStage();
  else {
    console.error(`unknown stage ${stage}`);
    process.exit(2);
  }
}

fs.rmSync(outDir, { recursive: true, force: true });
console.log(`\nTotal time: ${Math.round((Date.now() - t0) / 1000)} s`);
if (totals.failures.length) console.log(`Failed:\n${totals.failures.map((f) => `  - ${f}`).join('\n')}`);
console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 ? 1 : 0);
