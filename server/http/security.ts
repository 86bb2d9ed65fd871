/**
 * Response hardening and the Origin check. State-changing requests and websocket upgrades with a
 * foreign Origin are refused (CSRF / cross-site websocket hijacking); requests without Origin come
 * from non-browser clients (curl, scripts with a token) and are judged by their credentials alone.
 *
 * Content-Security-Policy:
 * - API answers and anything not a page: `default-src 'none'; frame-ancestors 'none'` (JSON never
 *   needs to load anything; a response opened as a document can do nothing).
 * - Pages: scripts only from this origin or carrying this response's nonce; no eval (except in
 *   `--dev`, where React's tooling needs it); styles from this origin plus inline (xterm.js and
 *   noVNC create <style> elements and style attributes at run time; inline CSS cannot run script);
 *   websockets to this host only; images from here, data: and blob: (noVNC cursors, screenshots);
 *   no plugins, no <base>, forms only to here, never framed.
 *
 * The nonce: a fresh 128-bit value per page response. In production the pages are a static export
 * and server/http/pages.ts adds it to every <script> tag of each HTML file it sends (ScriptNoncer).
 * Under `--dev` (next dev in-process, preparePageRequest) it is put on the request as
 * `Content-Security-Policy` (where Next.js reads it for the scripts it renders dynamically) and
 * `x-nonce`, and, because pages prerendered at build time cannot know it, added to every <script>
 * tag of the HTML as it streams out (`nonceHtml`). That is safe here because React escapes all
 * text it renders and our pages render no user data on the server (they fetch it as JSON), so
 * every <script> tag in the server's HTML is Next's or the layout's own; a script injected into
 * the DOM later (DOM XSS) never gets the nonce, and neither do inline event handlers or
 * javascript: URLs.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Pages anyone may load: the login page and the static assets it needs. */
export function pageNeedsAuth(pathname: string): boolean {
  if (pathname === '/login' || pathname.startsWith('/login/')) return false;
  if (pathname.startsWith('/_next/')) return false;
  if (pathname === '/favicon.ico' || pathname === '/robots.txt') return false;
  return true;
}

export function makeOriginCheck(allowed: string[], tls: boolean) {
  return (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    if (req.headers['sec-fetch-site'] === 'cross-site') return false;
    if (origin === undefined) return true;
    if (allowed.includes(origin)) return true;
    const host = req.headers.host;
    if (!host) return false;
    const forwardedProto = req.headers['x-forwarded-proto'];
    const protos = new Set([tls ? 'https' : 'http', typeof forwardedProto === 'string' ? forwardedProto.split(',')[0].trim() : '']);
    for (const p of protos) if (p && origin === `${p}://${host}`) return true;
    return false;
  };
}

/** For everything that is not a page: nothing may load, nothing may frame it. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function securityHeaders(res: ServerResponse, tls: boolean): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'same-origin');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
  res.setHeader('content-security-policy', API_CSP);
  if (tls) res.setHeader('strict-transport-security', 'max-age=31536000');
}

/** A Host header we are willing to echo into a CSP source (no spaces, semicolons, quotes…). */
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function pageCsp(nonce: string, opts: { dev: boolean; tls: boolean; host?: string }): string {
  const host = opts.host && HOST_RE.test(opts.host) ? opts.host : null;
  // 'self' covers same-origin ws/wss in current browsers; the explicit entries cover older ones.
  const ws = host ? (opts.tls ? ` wss://${host}` : ` ws://${host} wss://${host}`) : '';
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'${opts.dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${ws}`,
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-src 'self'",
    "frame-ancestors 'none'",
    ...(opts.tls ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/**
 * For a request that Next.js will answer: a nonce and the page CSP on the response, the nonce on
 * the request for Next, and HTML answers rewritten to carry it. Returns the nonce.
 */
export function preparePageRequest(req: IncomingMessage, res: ServerResponse, opts: { dev: boolean; tls: boolean }): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const csp = pageCsp(nonce, { ...opts, host: req.headers.host });
  const url = req.url ?? '/';
  if (url.startsWith('/_next/static/')) return nonce; // immutable assets: keep compression and caching
  res.setHeader('content-security-policy', csp);
  req.headers['content-security-policy'] = csp;
  req.headers['x-nonce'] = nonce;
  // The HTML must be rewritten as it streams (so: not compressed) and never answered with a 304
  // from a cached copy that carries an old nonce.
  delete req.headers['accept-encoding'];
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  nonceHtml(res, nonce);
  return nonce;
}

type HeaderArg = Record<string, unknown> | unknown[] | undefined;

function headerValue(h: HeaderArg, name: string): unknown {
  if (!h) return undefined;
  if (Array.isArray(h)) {
    const flat = Array.isArray(h[0]) ? (h as unknown[][]).flat() : h;
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) return flat[i + 1];
    return undefined;
  }
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function withoutHeaders(h: HeaderArg, names: string[]): HeaderArg {
  if (!h) return h;
  if (Array.isArray(h)) {
    const pairs: unknown[][] = Array.isArray(h[0]) ? (h as unknown[][]) : [];
    if (!Array.isArray(h[0])) for (let i = 0; i + 1 < h.length; i += 2) pairs.push([h[i], h[i + 1]]);
    return pairs.filter(([k]) => !names.includes(String(k).toLowerCase())).flat();
  }
  return Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k.toLowerCase())));
}

/**
 * Inserts ` nonce="…"` into every `<script` tag of an HTML response that has none, across chunk
 * boundaries (a tag cut by a boundary is held back until its `>` arrives).
 */
export class ScriptNoncer {
  private carry = '';
  private readonly attr: string;

  constructor(nonce: string) {
    this.attr = ` nonce="${nonce}"`;
  }

  /** latin1 keeps bytes 1:1, and the tag is ASCII. */
  push(chunk: Buffer): Buffer {
    return Buffer.from(this.rewrite(this.carry + chunk.toString('latin1'), false), 'latin1');
  }

  flush(): Buffer {
    const rest = this.carry;
    this.carry = '';
    return Buffer.from(this.rewrite(rest, true), 'latin1');
  }

  private rewrite(s: string, final: boolean): string {
    let out = '';
    let i = 0;
    const re = /<script(?=[\s>\/])/gi;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      const end = s.indexOf('>', m.index);
      if (end < 0) {
        if (!final) {
          this.carry = s.slice(m.index);
          return out + s.slice(i, m.index);
        }
        break;
      }
      const tag = s.slice(m.index, end);
      out += s.slice(i, m.index + 7);
      if (!/\snonce\s*=/i.test(tag)) out += this.attr;
      i = m.index + 7;
      re.lastIndex = end;
    }
    let rest = s.slice(i);
    this.carry = '';
    if (!final) {
      // Hold back a tail that might be the start of "<script" cut by the chunk boundary.
      const lt = rest.lastIndexOf('<');
      if (lt >= 0 && rest.length - lt < 8 && '<script'.startsWith(rest.slice(lt).toLowerCase())) {
        this.carry = rest.slice(lt);
        rest = rest.slice(0, lt);
      }
    }
    return out + rest;
  }
}

/** Patches `res` so that an HTML answer gets the nonce on its scripts and is never cached. */
export function nonceHtml(res: ServerResponse, nonce: string): void {
  let noncer: ScriptNoncer | null = null;
  let decided = false;
  const origWriteHead = res.writeHead;
  const origWrite = res.write;
  const origEnd = res.end;

  const decide = (headers: HeaderArg): HeaderArg => {
    if (decided) return headers;
    decided = true;
    const type = String(headerValue(headers, 'content-type') ?? res.getHeader('content-type') ?? '');
    const encoding = headerValue(headers, 'content-encoding') ?? res.getHeader('content-encoding');
    if (!/^text\/html\b/i.test(type) || encoding) return headers;
    noncer = new ScriptNoncer(nonce);
    res.removeHeader('content-length');
    res.removeHeader('etag');
    res.setHeader('cache-control', 'no-store');
    return withoutHeaders(headers, ['content-length', 'etag', 'cache-control']);
  };

  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    // writeHead(status, headers) | writeHead(status, reason, headers)
    const hi = typeof rest[0] === 'string' ? 1 : 0;
    rest[hi] = decide(rest[hi] as HeaderArg);
    if (rest[hi] === undefined) rest.length = hi;
    return (origWriteHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;

  const transform = (chunk: unknown, encoding: unknown): Buffer | null => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return null;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : chunk instanceof Uint8Array
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return noncer!.push(buf);
  };

  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (!res.headersSent) decide(undefined);
    if (!noncer) return (origWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    const out = transform(chunk, rest[0]);
    const cb = rest.find((x) => typeof x === 'function');
    return (origWrite as (...a: unknown[]) => boolean).call(this, out ?? Buffer.alloc(0), ...(cb ? [cb] : []));
  } as typeof res.write;

  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (!res.headersSent) decide(undefined);
    if (!noncer) return (origEnd as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    const cb = [chunk, ...rest].find((x) => typeof x === 'function');
    const out = transform(chunk, rest[0]);
    const tail = noncer.flush();
    const all = out ? Buffer.concat([out, tail]) : tail;
    return (origEnd as (...a: unknown[]) => ServerResponse).call(this, all, ...(cb ? [cb] : []));
  } as typeof res.end;
}
