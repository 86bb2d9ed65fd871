/**
 * Shared helpers for the start and test scripts: run a command with an argument array, install
 * npm dependencies when they are missing or stale, and build the Next.js app when it is stale.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureServerBundle } from './build-server.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

export function mustRun(cmd, args, opts = {}) {
  const code = run(cmd, args, opts);
  if (code !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed with exit code ${code}`);
    process.exit(code);
  }
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** npm install when node_modules is missing or older than package.json / package-lock.json. */
export function ensureDeps() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const stale = !fs.existsSync(marker) || mtime(marker) < Math.max(mtime(path.join(ROOT, 'package.json')), mtime(path.join(ROOT, 'package-lock.json')));
  if (!stale) return;
  console.log('setup: installing npm dependencies (npm install)');
  mustRun('npm', ['install', '--no-audit', '--no-fund']);
}

function newestMtime(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : mtime(p));
  }
  return newest;
}

/**
 * The server bundle (dist/server.mjs) when a server source is newer; next build (a static export
 * into out/) when there is none or a page source is newer than it, then the precompressed copies
 * of its assets and the first-load JS report.
 */
export function ensureBuild() {
  ensureServerBundle();
  const buildId = path.join(ROOT, 'out', 'index.html');
  const sources = Math.max(...['app', 'components', 'lib', 'public'].map((d) => newestMtime(path.join(ROOT, d))), mtime(path.join(ROOT, 'next.config.js')));
  if (fs.existsSync(buildId) && mtime(buildId) >= sources) return;
  console.log('setup: building the web UI (next build)');
  mustRun(process.execPath, [path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], { env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
  mustRun(process.execPath, [path.join(ROOT, 'scripts', 'precompress.mjs')]);
  run(process.execPath, [path.join(ROOT, 'scripts', 'report-bundle.mjs')]);
}
