#!/usr/bin/env node
/**
 * Bundles the server (server/ + lib/, TypeScript) into one ES module, dist/server.mjs, with esbuild.
 * npm packages stay external (better-sqlite3 is native; next is only imported by --dev). The
 * server then runs on plain `node`, without a TypeScript loader in the process: the loader's
 * thread, its transform caches and source maps cost ~35 MiB of RSS. A source map is written next
 * to the bundle (`node --enable-source-maps dist/server.mjs` uses it).
 *
 * `ensureServerBundle()` rebuilds only when a source under server/ or lib/ (or this script) is
 * newer than the bundle; it takes ~50 ms. Used by the start and test scripts and by the test and
 * bench harnesses, so every test and bench runs the same bundle as `npm start`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_BUNDLE = path.join(ROOT, 'dist', 'server.mjs');

/**
 * Environment every server process gets (npm start, the test and bench harnesses); the caller's
 * own environment wins. MALLOC_ARENA_MAX=1: glibc gives each thread that allocates (libuv's pool:
 * file reads, scrypt, zlib) an arena of its own, and serving pages left ~30 MiB of fragmented,
 * never-returned memory in them (5 dashboard logins: 124 MiB idle RSS with the default, 92 MiB
 * with one arena, 121 MiB with two; the JS heap was 13 MiB in each case).
 */
export const SERVER_ENV = { MALLOC_ARENA_MAX: '1' };

function newest(dir) {
  let t = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

export function serverBundleStale() {
  if (!fs.existsSync(SERVER_BUNDLE)) return true;
  const sources = Math.max(newest(path.join(ROOT, 'server')), newest(path.join(ROOT, 'lib')), fs.statSync(fileURLToPath(import.meta.url)).mtimeMs, fs.statSync(path.join(ROOT, 'package.json')).mtimeMs);
  return fs.statSync(SERVER_BUNDLE).mtimeMs < sources;
}

/** Builds in memory, then renames each output into place: a server starting meanwhile never reads half a file. */
export function buildServer() {
  // Loaded here, not at the top: the start and test scripts import this module before they have
  // run `npm install` on a fresh clone.
  const { buildSync } = createRequire(import.meta.url)('esbuild');
  const r = buildSync({
    write: false,
    entryPoints: [path.join(ROOT, 'server', 'index.ts')],
    outfile: SERVER_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
    tsconfig: path.join(ROOT, 'tsconfig.json'),
  });
  fs.mkdirSync(path.dirname(SERVER_BUNDLE), { recursive: true });
  // The map first, so that a fresh bundle never points at a stale map.
  for (const f of [...r.outputFiles].sort((a) => (a.path.endsWith('.map') ? -1 : 1))) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, f.contents);
    fs.renameSync(tmp, f.path);
  }
}

export function ensureServerBundle({ quiet = false } = {}) {
  if (!serverBundleStale()) return false;
  if (!quiet) console.log('setup: bundling the server (esbuild → dist/server.mjs)');
  buildServer();
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildServer();
  console.log(`built ${path.relative(ROOT, SERVER_BUNDLE)} (${(fs.statSync(SERVER_BUNDLE).size / 1024).toFixed(0)} KiB)`);
}
