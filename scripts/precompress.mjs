#!/usr/bin/env node
/**
 * Writes a brotli (`.br`) and a gzip (`.gz`) copy next to every script, stylesheet and source map in
 * the static export's `out/_next/static/`, once, at build time and at the best compression levels.
 * The server sends a copy when the browser accepts that encoding (server/http/pages.ts), so it
 * never compresses these files per request. Run by `npm run build` and by the start/test scripts
 * after a build; a copy newer than its file is kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = path.join(ROOT, 'out', '_next', 'static');
const EXT = new Set(['.js', '.css', '.map', '.json', '.svg', '.txt', '.wasm']);

function* files(dir) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile() && EXT.has(path.extname(e.name))) yield p;
  }
}

const fresh = (copy, src) => fs.existsSync(copy) && fs.statSync(copy).mtimeMs >= fs.statSync(src).mtimeMs;
let count = 0;
let raw = 0;
let br = 0;
for (const f of files(STATIC)) {
  const buf = fs.readFileSync(f);
  raw += buf.length;
  if (!fresh(`${f}.br`, f)) {
    fs.writeFileSync(`${f}.br`, zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length } }));
  }
  if (!fresh(`${f}.gz`, f)) fs.writeFileSync(`${f}.gz`, zlib.gzipSync(buf, { level: 9 }));
  br += fs.statSync(`${f}.br`).size;
  count++;
}
console.log(`precompress: ${count} files in out/_next/static, ${(raw / 1024).toFixed(0)} KiB → ${(br / 1024).toFixed(0)} KiB brotli`);
