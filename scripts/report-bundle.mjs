#!/usr/bin/env node
/**
 * Reports each exported page's first-load JavaScript after `next build` (Next 16 no longer
 * prints it): the scripts its HTML loads up front, raw and gzipped. Run by `npm run build` and by
 * the start/test scripts after a build. Lazily loaded chunks (the console, noVNC, xterm.js) are not
 * counted: that is the point of code-splitting them.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'out');

function htmlFiles(dir, prefix = '') {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...htmlFiles(path.join(dir, e.name), `${prefix}/${e.name}`));
    else if (e.name.endsWith('.html') && !e.name.startsWith('_')) out.push({ file: path.join(dir, e.name), route: `${prefix}/${e.name.replace(/\.html$/, '')}` });
  }
  return out;
}

function routeName(r) {
  const clean = r.replace(/\/\([^)]*\)/g, '').replace(/\/index$/, '') || '/';
  return clean === '' ? '/' : clean;
}

const rows = [];
for (const { file, route } of htmlFiles(OUT)) {
  const html = fs.readFileSync(file, 'utf8');
  const srcs = [...new Set([...html.matchAll(/<script[^>]*\ssrc="(\/_next\/static\/[^"]+\.js)"/g)].map((m) => m[1]))];
  let raw = 0;
  let gz = 0;
  for (const src of srcs) {
    const p = path.join(OUT, src);
    if (!fs.existsSync(p)) continue;
    const buf = fs.readFileSync(p);
    raw += buf.length;
    gz += zlib.gzipSync(buf, { level: 9 }).length;
  }
  rows.push({ route: routeName(route), scripts: srcs.length, raw, gz });
}
rows.sort((a, b) => a.route.localeCompare(b.route));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log('First-load JS of prerendered pages (scripts in the HTML; lazy chunks excluded):');
for (const r of rows) console.log(`  ${r.route.padEnd(24)} ${kib(r.gz).padStart(10)} gzipped  ${kib(r.raw).padStart(10)} raw  (${r.scripts} scripts)`);
if (rows.length === 0) console.log('  (no prerendered pages found: run next build first)');
