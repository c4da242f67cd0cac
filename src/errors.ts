/**
 * Errors that cross a capability boundary. Each carries the HTTP status a client should see and a
 * stable machine-readable `code`; the problem+json handler relies on both, and anything that is
 * not an AppError is treated as an internal fault (500, logged, details withheld).
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = Object.freeze({ ...(options?.headers ?? {}) });
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request') { super(400, code, message); }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'Valid credentials are required', code = 'unauthorized') {
    super(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer realm="callvault"' } });
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'This principal may not perform this action', code = 'forbidden') { super(403, code, message); }
}
export class NotFoundError extends AppError {
  constructor(message = 'Not found', code = 'not_found') { super(404, code, message); }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict') { super(409, code, message); }
}
export class PayloadTooLargeError extends AppError {
  constructor(message: string, code = 'payload_too_large') { super(413, code, message); }
}
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, code = 'unsupported_media_type') { super(415, code, message); }
}
/** Well-formed input the vault refuses to act on (e.g. a recording whose retention has already run out). */
export class UnprocessableContentError extends AppError {
  constructor(message: string, code: string) { super(422, code, message); }
}
export class RangeNotSatisfiableError extends AppError {
  constructor(sizeBytes: number) {
    super(416, 'range_not_satisfiable', 'The requested range is outside the recording', {
      headers: { 'Content-Range': `bytes */${sizeBytes}` },
    });
  }
}
export class TooManyRequestsError extends AppError {
  constructor(message: string, retryAfterSeconds: number, code = 'too_many_requests') {
    super(429, code, message, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}
/** A dependency (database, object store, key service, audit log) failed; the client may retry. */
export class DependencyError extends AppError {
  readonly dependency: string;
  constructor(dependency: 'database' | 'storage' | 'keys' | 'audit', message: string, cause?: unknown) {
    super(503, `${dependency}_unavailable`, message, { cause, headers: { 'Retry-After': '5' } });
    this.dependency = dependency;
  }
}
/** Ciphertext failed authentication: tampering, truncation, a swapped object or the wrong key. */
export class IntegrityError extends AppError {
  constructor(message: string) { super(500, 'integrity_failed', message); }
}
