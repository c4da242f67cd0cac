import pino, { type Logger } from 'pino';
import { redactValue, REDACTED, scrubText, serializeError } from './log-redaction.js';

export type { Logger };

/**
 * Every log line passes three redaction layers (log-redaction.ts): fields named like secrets are
 * replaced wherever they sit in the logged object, errors are reduced to type, message, code,
 * status, stack and cause (never a request or its headers), and the serialized line is scrubbed
 * of JWTs, Bearer/Basic credentials, /media/<token> paths, token query parameters and private
 * keys. Request URLs are additionally logged through `safeUrl`. The fixed paths below are the
 * cheap first line of the same defence.
 */
const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-amz-security-token"]',
  'headers.authorization', 'authorization', 'token', 'password', 'secret', 'key', 'plaintext',
  '*.authorization', '*.token', '*.password', '*.secret', '*.plaintext',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    redact: { paths: REDACT, censor: REDACTED },
    base: { service: 'callvault' },
    serializers: { err: (err: unknown) => serializeError(err) },
    formatters: { log: (obj) => redactValue(obj) as Record<string, unknown> },
    hooks: { streamWrite: scrubText },
  }, destination);
}

/** The URL with media tokens and query strings replaced, fit for logs. */
export function safeUrl(url: string): string {
  const pathOnly = url.split('?')[0] ?? '';
  return pathOnly.replace(/^\/media\/[^/]+/, '/media/[redacted]');
}
