/**
 * Response hardening and the Origin check. State-changing requests and websocket upgrades with a
 * foreign Origin are refused (CSRF / cross-site websocket hijacking); requests without Origin come
 * from non-browser clients (curl, scripts with a token) and are judged by their credentials alone.
 */
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

export function securityHeaders(res: ServerResponse, tls: boolean): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'same-origin');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  if (tls) res.setHeader('strict-transport-security', 'max-age=31536000');
}
