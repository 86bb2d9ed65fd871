/**
 * Stable error codes: the one place they are defined. Every error that leaves the server is
 * `{code, message, detail?}` with the HTTP status listed here. Clients (the UI, scripts, tests)
 * switch on `code`, never on `message`.
 */

export const ERROR_STATUS = {
  // 400: the request itself is malformed
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  PATH_ESCAPE: 400,
  // 401/403: who you are and what you may do
  UNAUTHORIZED: 401,
  BAD_CREDENTIALS: 401,
  FORBIDDEN: 403,
  BAD_ORIGIN: 403,
  TICKET_INVALID: 403,
  // 404
  NOT_FOUND: 404,
  VM_NOT_FOUND: 404,
  VOLUME_NOT_FOUND: 404,
  // 405/413/415
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // 409: conflicts with the current state
  NAME_TAKEN: 409,
  VOLUME_EXISTS: 409,
  VOLUME_IN_USE: 409,
  INVALID_STATE: 409,
  VM_NOT_RUNNING: 409,
  VM_RUNNING: 409,
  HOTPLUG_NO_SLOT: 409,
  HOTPLUG_UNSUPPORTED: 409,
  UNPLUG_PENDING: 409,
  // 422: well-formed but impossible
  RESOURCE_LIMIT: 422,
  HOTPLUG_LIMIT: 422,
  BOOT_DISK: 422,
  // 429
  RATE_LIMITED: 429,
  // 5xx: our side or QEMU's side failed, never the caller's input
  INTERNAL: 500,
  QEMU_FAILED: 502,
  STORAGE_FAILED: 502,
  /** The pool's file system has no room left (ENOSPC): free space or grow it, then retry. */
  STORAGE_FULL: 507,
  QMP_TIMEOUT: 504,
  QMP_DISCONNECTED: 502,
  UNPLUG_TIMEOUT: 504,
  SHUTTING_DOWN: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

/** An error that is meant to reach the client as-is. Anything else becomes INTERNAL. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail?: unknown;

  constructor(code: ErrorCode, message: string, detail?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.detail = detail;
  }

  toBody(): ErrorBody {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
