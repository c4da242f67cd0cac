/**
 * What must never reach a log line: bearer and Basic credentials, JWTs, media link tokens,
 * signed-URL parameters, private keys, and the values of fields named like secrets. Three layers
 * apply it (see logger.ts): field names on the logged object, a safe error serializer, and a
 * final pass over every serialized line, so that a token interpolated into a message or buried
 * in an error's properties is caught too.
 */

export const REDACTED = '[redacted]';

/** Field names whose values are always replaced, wherever they appear in a logged object. */
const SENSITIVE_FIELD = /^(?:authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|token|access_?token|refresh_?token|id_?token|media_?token|password|passphrase|secret|client_?secret|api_?key|private_?key|secret_?access_?key|session_?token|key|plaintext|data_?key|credentials?)$/i;

/**
 * Text patterns scrubbed from the serialized line. None of them can match a JSON quote or
 * backslash, so replacing them keeps the line valid JSON.
 *
 * The line carries client input (paths, headers, messages) and is scrubbed before the request is
 * answered, so every pattern must run in time linear in the line: a pattern that may restart
 * inside a run it already scanned, or scan on to the end from each of many starts, lets one
 * request hold the event loop for seconds. Hence JWTs are found by a scanner rather than a
 * pattern, and the private key body stops at the next BEGIN. test/http/linear-input.test.ts
 * measures the growth; the regexp lint rules check the rest.
 */
const LINE_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----(?:(?!-----BEGIN )[^"])*?-----END [A-Z ]{0,40}PRIVATE KEY-----/g, '[redacted private key]'],
  [/\b(Bearer|Basic)(?:\s+|%20)[\w.~+/=%-]+/gi, `$1 ${REDACTED}`],
  [/\/media\/[^/\s?#"\\]+/g, `/media/${REDACTED}`],
  [/([?&;](?:token|access_token|id_token|refresh_token|code|sig|signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s#"\\]*/gi, `$1${REDACTED}`],
];

export function scrubText(text: string): string {
  let out = redactJwts(text);
  for (const [pattern, replacement] of LINE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

const JWT_REDACTED = '[redacted jwt]';

function isTokenChar(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x2d;
}

/** Where the run of base64url characters starting at `from` ends. */
function runEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Replaces every `header.payload[.signature]` whose header run starts with "ey" (a JOSE header
 * is a JSON object, so its base64url form starts with `{"` or `{ "`) and is at least 17
 * characters long. Each run of token characters is read once, whether or not it turns out to be
 * a JWT, which keeps the scan linear however the runs are arranged.
 */
function redactJwts(text: string): string {
  let out = '';
  let copied = 0;
  let at = 0;
  while (at < text.length) {
    if (!isTokenChar(text.charCodeAt(at))) { at++; continue; }
    const headerEnd = runEnd(text, at);
    if (!text.startsWith('ey', at) || headerEnd - at < 17 || text[headerEnd] !== '.') { at = headerEnd; continue; }
    const payloadEnd = runEnd(text, headerEnd + 1);
    if (payloadEnd === headerEnd + 1 || text[payloadEnd] !== '.') { at = payloadEnd; continue; }
    const end = runEnd(text, payloadEnd + 1);
    out += text.slice(copied, at) + JWT_REDACTED;
    copied = at = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

export function isSensitiveField(name: string): boolean {
  return SENSITIVE_FIELD.test(name);
}

const MAX_DEPTH = 8;

/**
 * A copy of a logged value with sensitive fields replaced and errors reduced to their safe
 * summary. Arrays, plain objects and errors are followed; anything else is kept as is (strings
 * are scrubbed later, on the serialized line).
 */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (!value || typeof value !== 'object') return value;
  if (value instanceof Error) return serializeError(value, depth, seen);
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSensitiveField(k) ? REDACTED : redactValue(v, depth + 1, seen);
  return out;
}

export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  code?: unknown;
  status?: unknown;
  cause?: unknown;
  errors?: unknown[];
}

/**
 * Errors are logged by an allowlist of fields. Client libraries hang requests, responses and
 * their headers (with Authorization) on their errors; none of that is copied.
 */
export function serializeError(err: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (!(err instanceof Error)) return redactValue(err, depth, seen);
  if (seen.has(err)) return '[circular]';
  seen.add(err);
  const fields = err as Error & { code?: unknown; status?: unknown; statusCode?: unknown; errors?: unknown };
  const out: SerializedError = { type: err.name || err.constructor.name, message: err.message };
  if (err.stack) out.stack = err.stack;
  if (typeof fields.code === 'string' || typeof fields.code === 'number') out.code = fields.code;
  const status = fields.status ?? fields.statusCode;
  if (typeof status === 'number') out.status = status;
  if (depth < 3 && err.cause !== undefined) out.cause = serializeError(err.cause, depth + 1, seen);
  if (depth < 3 && Array.isArray(fields.errors)) out.errors = fields.errors.slice(0, 10).map((e) => serializeError(e, depth + 1, seen));
  return out;
}
