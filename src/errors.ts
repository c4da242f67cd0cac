/**
 * The error registry: every code the API can answer with is declared here once, with its HTTP
 * status and a default message. Codes and statuses are part of the API contract (openapi.yaml);
 * error classes take a code from this table, so a code cannot drift to a second status.
 */
interface ErrorSpec { readonly status: number; readonly message: string }

export const ERRORS = {
  // 400: input the vault cannot read
  bad_request: { status: 400, message: 'The request is not valid' },
  malformed_request: { status: 400, message: 'The request could not be parsed as HTTP/1.1' },
  malformed_url: { status: 400, message: 'The request target is not valid' },
  missing_host: { status: 400, message: 'HTTP/1.1 requests must carry a Host header' },
  entity_parse_failed: { status: 400, message: 'The request body is not valid JSON' },
  invalid_body: { status: 400, message: 'The request body is not valid' },
  invalid_query: { status: 400, message: 'The query is not valid' },
  invalid_filter: { status: 400, message: 'The recording filter is not valid' },
  invalid_cursor: { status: 400, message: 'The cursor is not valid for this query; start again without one' },
  invalid_call_id: { status: 400, message: 'The callId is not valid' },
  invalid_metadata: { status: 400, message: 'The recording metadata is not valid' },
  invalid_phone: { status: 400, message: 'phone must be a phone number' },
  invalid_policy_name: { status: 400, message: 'The retention policy name is not valid' },
  invalid_retain: { status: 400, message: 'retain must be an ISO-8601 duration' },
  unknown_policy: { status: 400, message: 'The retention policy does not exist for this tenant' },
  started_at_in_future: { status: 400, message: "startedAt is ahead of the vault's clock" },
  empty_body: { status: 400, message: 'The recording body is empty' },
  digest_mismatch: { status: 400, message: 'The body does not match the SHA-256 digest sent with it; nothing was stored' },
  invalid_digest: { status: 400, message: 'The SHA-256 digest header is malformed' },
  truncated_body: { status: 400, message: 'The request body ended before it was complete; nothing was stored' },
  invalid_content_length: { status: 400, message: 'Content-Length is not a number' },
  content_length_mismatch: { status: 400, message: 'The body length differs from the declared Content-Length' },
  invalid_multipart: { status: 400, message: 'The multipart body is malformed' },
  duplicate_field: { status: 400, message: 'A form field was sent twice' },
  missing_call_id: { status: 400, message: 'The callId form field is required' },
  missing_file: { status: 400, message: 'The multipart body has no file part' },
  multiple_files: { status: 400, message: 'Exactly one file part is allowed' },
  rotation_not_local: { status: 400, message: 'Key rotation here needs KEY_PROVIDER=local' },
  kms_not_configured: { status: 400, message: 'A tenant KMS key needs KEY_PROVIDER=aws-kms' },
  invalid_kms_key_id: { status: 400, message: 'kmsKeyId is not a KMS key id, ARN or alias' },
  kms_key_unusable: { status: 400, message: 'The vault cannot generate data keys with this KMS key' },
  // 401: credentials missing or refused (see src/auth/errors.ts for why each token code is safe to show)
  unauthorized: { status: 401, message: 'Valid credentials are required' },
  missing_token: { status: 401, message: 'A Bearer token is required' },
  invalid_metrics_token: { status: 401, message: 'A valid metrics token is required' },
  token_too_large: { status: 401, message: 'The token is too large' },
  malformed_token: { status: 401, message: 'The token is malformed' },
  unsupported_algorithm: { status: 401, message: 'The token algorithm is not accepted' },
  unsupported_token_header: { status: 401, message: 'The token header is not accepted' },
  unknown_key: { status: 401, message: 'The token was signed with an unknown key' },
  invalid_signature: { status: 401, message: 'The token signature is invalid' },
  token_expired: { status: 401, message: 'The token has expired' },
  token_lifetime_too_long: { status: 401, message: 'The token lifetime exceeds JWT_MAX_TTL' },
  token_not_yet_valid: { status: 401, message: 'The token is not yet valid' },
  invalid_audience: { status: 401, message: 'The token audience is not accepted' },
  invalid_issuer: { status: 401, message: 'The token issuer is not accepted' },
  invalid_claims: { status: 401, message: 'The token claims are invalid' },
  invalid_token: { status: 401, message: 'The token is invalid' },
  session_expired: { status: 401, message: 'The console session has ended or expired; sign in again' },
  // 403: known caller, refused
  forbidden: { status: 403, message: 'This principal may not perform this action' },
  client_certificate_required: { status: 403, message: 'PBX uploads require a client certificate' },
  client_certificate_mismatch: { status: 403, message: 'The client certificate does not name the token subject' },
  ip_not_allowed: { status: 403, message: 'This address may not upload recordings' },
  link_invalid: { status: 403, message: 'This link is not valid' },
  link_expired: { status: 403, message: 'This link has expired; ask for a new one' },
  link_revoked: { status: 403, message: 'This link has been revoked' },
  link_used: { status: 403, message: 'This single-use link has already been used by another client' },
  link_origin_refused: { status: 403, message: 'This page may not play the link' },
  download_not_permitted: { status: 403, message: "Downloads are not enabled for this principal's roles in this tenant" },
  csrf_failed: { status: 403, message: 'A state-changing request from the console must carry a valid X-CSRF-Token header' },
  mfa_required: { status: 403, message: 'Issuing links from the console needs a session signed in with multi-factor authentication' },
  approver_is_requester: { status: 403, message: 'A redaction request must be decided by another compliance user than the one who made it' },
  // 404: one code for every missing resource, so another tenant's answers exactly the same
  not_found: { status: 404, message: 'Not found' },
  object_not_found: { status: 404, message: 'The stored object does not exist' },
  master_key_not_found: { status: 404, message: 'There is no such master key' },
  // 409
  conflict: { status: 409, message: 'The request conflicts with the current state' },
  call_id_conflict: { status: 409, message: 'A different recording was already uploaded under this callId' },
  recording_deleted: { status: 409, message: 'This callId belonged to a recording that has been deleted' },
  deletion_in_progress: { status: 409, message: 'This recording is being deleted' },
  legal_hold: { status: 409, message: 'This recording is on legal hold' },
  master_key_current: { status: 409, message: 'The master key is current and cannot be retired' },
  master_key_state_changed: { status: 409, message: 'The master key changed state meanwhile' },
  master_key_in_use: { status: 409, message: 'Data keys are still wrapped under this master key' },
  redaction_conflict: { status: 409, message: 'The recording changed while it was being redacted; nothing was changed, retry' },
  redaction_request_decided: { status: 409, message: 'This redaction request has already been decided' },
  // 410: a resource that existed and is gone for good
  link_superseded: { status: 410, message: 'This link was issued before the recording was redacted; ask for a new link' },
  saved_search_exists: { status: 409, message: 'A saved search of this name exists already' },
  saved_search_limit: { status: 409, message: 'Too many saved searches for this user' },
  // edge and size limits
  request_timeout: { status: 408, message: 'The request did not arrive in time; the connection is closed' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  field_too_large: { status: 413, message: 'A form field is too large' },
  too_many_parts: { status: 413, message: 'Too many parts in the multipart body' },
  too_many_fields: { status: 413, message: 'Too many fields in the multipart body' },
  chunk_extensions_too_large: { status: 413, message: 'Chunk extensions are too large' },
  unsupported_media_type: { status: 415, message: 'The content type is not supported here' },
  range_not_satisfiable: { status: 416, message: 'The requested range is outside the recording' },
  expectation_failed: { status: 417, message: 'Only "Expect: 100-continue" is supported' },
  retention_already_expired: { status: 422, message: 'By its retention policy the recording should already have been deleted' },
  redaction_range_outside: { status: 422, message: 'A redaction range lies outside the recording' },
  redaction_too_large: { status: 422, message: 'The redacted recording would be larger than recordings may be' },
  too_many_requests: { status: 429, message: 'Too many requests; slow down' },
  rate_limited: { status: 429, message: 'Too many requests; slow down' },
  locked_out: { status: 429, message: 'Too many failed authentication attempts from this address; try again later' },
  download_rate_exceeded: { status: 429, message: 'Too many links issued or played this hour; access is paused' },
  too_many_exports: { status: 429, message: 'Too many audit exports at once for this principal' },
  headers_too_large: { status: 431, message: 'The request head is too large' },
  // 500: the vault's fault or a failed integrity check; details stay in the logs
  internal_error: { status: 500, message: 'An internal error occurred; quote the requestId when reporting it' },
  integrity_failed: { status: 500, message: 'The stored recording failed its integrity check' },
  key_access_denied: { status: 500, message: 'The data key could not be unwrapped' },
  master_key_missing: { status: 500, message: 'The master key for this data key is missing' },
  key_config_invalid: { status: 500, message: 'The key store is unusable as configured' },
  // 503: a dependency is down; the client may retry
  database_unavailable: { status: 503, message: 'The database is unavailable; retry shortly' },
  storage_unavailable: { status: 503, message: 'The object store is unavailable; retry shortly' },
  keys_unavailable: { status: 503, message: 'The key service is unavailable; retry shortly' },
  audit_unavailable: { status: 503, message: 'The audit log is unavailable; retry shortly' },
  identity_provider_unavailable: { status: 503, message: 'The identity provider could not be reached to verify the token' },
  // audio decoding (src/audio)
  audio_undecodable: { status: 422, message: "The recording's audio could not be decoded" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
/** The codes registered with status S: `BadRequestError` accepts only `CodeWithStatus<400>`. */
export type CodeWithStatus<S extends number> = { [K in ErrorCode]: (typeof ERRORS)[K]['status'] extends S ? K : never }[ErrorCode];

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** The problem+json `title` of a status. */
export function titleOf(status: number): string {
  return TITLES[status] ?? 'Error';
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

interface AppErrorOptions { readonly cause?: unknown; readonly headers?: Record<string, string> }

/**
 * Errors that cross a capability boundary. Each carries the HTTP status a client should see and a
 * stable machine-readable `code`; the problem+json handler relies on both, and anything that is
 * not an AppError (or a mapped storage error) is treated as an internal fault (500, logged,
 * details withheld).
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message?: string, options?: AppErrorOptions) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = ERRORS[code].status;
    this.code = code;
    this.headers = Object.freeze({ ...(options?.headers ?? {}) });
  }
}

const RETRY_SOON = { 'Retry-After': '5' };

export class BadRequestError extends AppError {
  constructor(message: string, code: CodeWithStatus<400> = 'bad_request') { super(code, message); }
}
export class UnauthorizedError extends AppError {
  constructor(message?: string, code: CodeWithStatus<401> = 'unauthorized') {
    super(code, message, { headers: { 'WWW-Authenticate': 'Bearer realm="callvault"' } });
  }
}
export class ForbiddenError extends AppError {
  constructor(message?: string, code: CodeWithStatus<403> = 'forbidden') { super(code, message); }
}
export class NotFoundError extends AppError {
  constructor(message?: string, code: CodeWithStatus<404> = 'not_found') { super(code, message); }
}
export class ConflictError extends AppError {
  constructor(message: string, code: CodeWithStatus<409> = 'conflict') { super(code, message); }
}
/** A resource that existed and is gone for good (a link to a version that was redacted away). */
export class GoneError extends AppError {
  constructor(message?: string, code: CodeWithStatus<410> = 'link_superseded') { super(code, message); }
}
export class PayloadTooLargeError extends AppError {
  constructor(message: string, code: CodeWithStatus<413> = 'payload_too_large') { super(code, message); }
}
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, code: CodeWithStatus<415> = 'unsupported_media_type') { super(code, message); }
}
/** Well-formed input the vault refuses to act on (e.g. a recording whose retention has already run out). */
export class UnprocessableContentError extends AppError {
  constructor(message: string, code: CodeWithStatus<422>) { super(code, message); }
}
export class RangeNotSatisfiableError extends AppError {
  constructor(sizeBytes: number) {
    super('range_not_satisfiable', undefined, { headers: { 'Content-Range': `bytes */${sizeBytes}` } });
  }
}
export class TooManyRequestsError extends AppError {
  constructor(message: string, retryAfterSeconds: number, code: CodeWithStatus<429> = 'too_many_requests') {
    super(code, message, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}
/** A dependency (database, object store, key service, audit log) failed; the client may retry. */
export class DependencyError extends AppError {
  readonly dependency: string;
  constructor(dependency: 'database' | 'storage' | 'keys' | 'audit', message?: string, cause?: unknown) {
    super(`${dependency}_unavailable`, message, { cause, headers: RETRY_SOON });
    this.dependency = dependency;
  }
}
/** The identity provider's JWKS endpoint could not be read: not the caller's fault, so 503. */
export class IdentityProviderUnavailableError extends AppError {
  constructor(message?: string, cause?: unknown) {
    super('identity_provider_unavailable', message, { cause, headers: RETRY_SOON });
  }
}
/** Ciphertext failed authentication: tampering, truncation, a swapped object or the wrong key. */
export class IntegrityError extends AppError {
  constructor(message?: string) { super('integrity_failed', message); }
}
