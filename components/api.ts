/**
 * The one fetch wrapper the pages use to talk to the REST API on the same origin. Every error that
 * comes back is `{code, message, detail?}` (lib/errors.ts); it is thrown as an ApiRequestError so
 * callers can switch on `code` and map VALIDATION_FAILED issues onto form fields. A 401 on any call
 * but the login itself means the session is gone: go to the login page and come back here after.
 */
import type { ErrorCode } from '@/lib/errors';

export interface ValidationIssue {
  path: (string | number)[];
  message: string;
}

export class ApiRequestError extends Error {
  readonly status: number;
  readonly code: ErrorCode | 'NETWORK_ERROR';
  readonly detail: unknown;

  constructor(status: number, code: ErrorCode | 'NETWORK_ERROR', message: string, detail?: unknown) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  /**
   * The field issues in `detail.issues`: VALIDATION_FAILED carries zod's, and NAME_TAKEN or
   * RESOURCE_LIMIT name their field the same way. Empty when the error names no field.
   */
  get issues(): ValidationIssue[] {
    const d = this.detail as { issues?: unknown } | undefined;
    if (!d || typeof d !== 'object' || !Array.isArray(d.issues)) return [];
    return d.issues.filter(
      (i): i is ValidationIssue => !!i && typeof i === 'object' && Array.isArray((i as ValidationIssue).path) && typeof (i as ValidationIssue).message === 'string',
    );
  }
}

export function loginUrl(): string {
  const here = window.location.pathname + window.location.search;
  return `/login?next=${encodeURIComponent(here)}`;
}

let redirecting = false;
function goToLogin() {
  if (redirecting || window.location.pathname === '/login') return;
  redirecting = true;
  window.location.assign(loginUrl());
}

export interface ApiOptions {
  /** Parse the body as text instead of JSON (the serial tail). */
  text?: boolean;
  /** Do not redirect to /login on a 401 (the login form itself). */
  no401Redirect?: boolean;
  signal?: AbortSignal;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiRequestError(0, 'NETWORK_ERROR', 'The server cannot be reached. Check that it is running, then try again.');
  }
  if (res.status === 401 && !opts.no401Redirect) goToLogin();
  if (!res.ok) {
    let code: ApiRequestError['code'] = 'INTERNAL';
    let message = `${res.status} ${res.statusText || 'request failed'}`;
    let detail: unknown;
    try {
      const j = (await res.json()) as { code?: string; message?: string; detail?: unknown };
      if (typeof j.code === 'string') code = j.code as ErrorCode;
      if (typeof j.message === 'string') message = j.message;
      detail = j.detail;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiRequestError(res.status, code, message, detail);
  }
  if (res.status === 204) return undefined as T;
  if (opts.text) return (await res.text()) as T;
  const ct = res.headers.get('content-type') ?? '';
  return (ct.includes('json') ? await res.json() : await res.text()) as T;
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiRequestError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
