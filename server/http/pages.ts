/**
 * Serves the web UI: the static export of the Next.js pages (`next build` with `output: 'export'`
 * writes `out/`). No Next.js runtime runs in the server process; every page is prerendered HTML
 * whose client code fetches its data from the REST API and /ws/events.
 *
 * - `/x` → `out/x.html` (or `out/x` for assets and the RSC payloads `*.txt` that client-side
 *   navigation fetches), `/` → `out/index.html`; anything else → `out/404.html` with a 404.
 * - Every path is resolved inside `out/` and refused if it escapes (`..`, encoded or not), if it
 *   names a directory, or if it carries a NUL byte.
 * - HTML: the page CSP with a fresh nonce, the nonce put on every <script> tag (ScriptNoncer; see
 *   security.ts for why that is safe here), `no-store`, gzip when the browser takes it.
 * - `/_next/static/*` (content-hashed names): cached for a year as immutable, served from the
 *   `.br`/`.gz` copies that scripts/precompress.mjs writes at build time when the browser takes
 *   them.
 * - Everything else (RSC payloads, favicon): `no-cache` with an ETag, so a reload costs a 304.
 * - The older VM URLs `/vms/<id>` and `/vms/<id>/console` redirect (308) to `/vm?id=<id>` and
 *   `/vm/console?id=<id>`, keeping the rest of the query.
 *
 * Only GET and HEAD. Files are read per request (the whole export is ~2 MB and the OS page cache
 * keeps it warm); nothing is held in the process but the open request.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pageCsp, ScriptNoncer } from './security';
import crypto from 'node:crypto';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', // RSC payloads: Next's client accepts text/plain in export mode
  '.json': 'application/json',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

export interface PagesOptions {
  /** The export directory (`out/`). */
  dir: string;
  dev: boolean;
  tls: boolean;
}

/** True when `dir` holds a build (`index.html`), so the server can say "not built" instead of 404s. */
export function hasExport(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'index.html'));
}

/**
 * `/vms/<id>[/console]` → where that page lives now, or null. Only plain ids (VM ids are UUIDs):
 * `/vms/new` is the wizard, and `/vms/new.txt` and friends are its RSC payloads.
 */
export function legacyVmRedirect(pathname: string, search: URLSearchParams): string | null {
  const m = /^\/vms\/([A-Za-z0-9_-]{1,64})(\/console)?\/?$/.exec(pathname);
  if (!m || m[1] === 'new') return null;
  const q = new URLSearchParams(search);
  q.delete('id');
  const out = new URLSearchParams({ id: m[1] });
  for (const [k, v] of q) out.append(k, v);
  return `${m[2] ? '/vm/console' : '/vm'}?${out}`;
}

/** The file a URL path names inside `root`, or null (escapes, NUL, not a regular file). */
export function resolvePage(root: string, pathname: string): string | null {
  let p: string;
  try {
    p = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (p.includes('\0') || !p.startsWith('/')) return null;
  const base = path.resolve(root);
  const candidates = p.endsWith('/') ? [`${p}index.html`] : [p, `${p}.html`];
  if (p === '/') candidates.splice(0, candidates.length, '/index.html');
  for (const c of candidates) {
    const full = path.resolve(base, `.${c}`);
    if (full !== base && !full.startsWith(base + path.sep)) return null;
    try {
      if (fs.statSync(full).isFile()) return full;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

function accepts(req: IncomingMessage, enc: 'br' | 'gzip'): boolean {
  const h = req.headers['accept-encoding'];
  return typeof h === 'string' && new RegExp(`(^|[\\s,])${enc}(?![\\w-])(?!\\s*;\\s*q=0(\\.0*)?\\s*(,|$))`, 'i').test(h);
}

function typeOf(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function sendHtml(req: IncomingMessage, res: ServerResponse, file: string, status: number, opts: PagesOptions): void {
  const nonce = crypto.randomBytes(16).toString('base64');
  const noncer = new ScriptNoncer(nonce);
  let body = Buffer.concat([noncer.push(fs.readFileSync(file)), noncer.flush()]);
  res.setHeader('content-security-policy', pageCsp(nonce, { dev: opts.dev, tls: opts.tls, host: req.headers.host }));
  res.setHeader('content-type', TYPES['.html']);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('vary', 'accept-encoding');
  if (accepts(req, 'gzip')) {
    body = zlib.gzipSync(body, { level: 6 });
    res.setHeader('content-encoding', 'gzip');
  }
  res.setHeader('content-length', body.length);
  res.writeHead(status).end(req.method === 'HEAD' ? undefined : body);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string, immutable: boolean): void {
  const st = fs.statSync(file);
  res.setHeader('content-type', typeOf(file));
  res.setHeader('vary', 'accept-encoding');
  let send = file;
  let size = st.size;
  for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']] as const) {
    if (!immutable || !accepts(req, enc)) continue;
    try {
      const cst = fs.statSync(file + ext);
      if (!cst.isFile()) continue;
      send = file + ext;
      size = cst.size;
      res.setHeader('content-encoding', enc);
      break;
    } catch {
      /* no precompressed copy */
    }
  }
  if (immutable) {
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
  } else {
    const etag = `W/"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"`;
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('etag', etag);
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304).end();
      return;
    }
  }
  res.setHeader('content-length', size);
  res.writeHead(200);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(send);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** The request handler for everything that is not /api or a websocket. */
export function makePagesHandler(opts: PagesOptions) {
  const root = path.resolve(opts.dir);
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      res.setHeader('content-type', 'application/json');
      res.writeHead(405).end(JSON.stringify({ code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed on a page` }));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const moved = legacyVmRedirect(url.pathname, url.searchParams);
    if (moved) {
      res.writeHead(308, { location: moved, 'cache-control': 'no-store' }).end();
      return;
    }
    const file = resolvePage(root, url.pathname);
    if (!file) {
      const notFound = path.join(root, '404.html');
      if (fs.existsSync(notFound)) return sendHtml(req, res, notFound, 404, opts);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    if (file.endsWith('.html')) return sendHtml(req, res, file, 200, opts);
    sendFile(req, res, file, url.pathname.startsWith('/_next/static/'));
  };
}
