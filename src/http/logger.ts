import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths redacted from every log line. Media tokens live in URLs, so request URLs are logged
 * through `safeUrl` and never raw; bearer tokens and cookies are removed wherever they appear.
 */
const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-amz-security-token"]',
  'headers.authorization', 'authorization', 'token', 'password', 'secret', 'key', 'plaintext',
  '*.authorization', '*.token', '*.password', '*.secret', '*.plaintext',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'callvault' } }, destination);
}

/** The URL with media tokens and query strings replaced, fit for logs. */
export function safeUrl(url: string): string {
  const pathOnly = url.split('?')[0] ?? '';
  return pathOnly.replace(/^\/media\/[^/]+/, '/media/[redacted]');
}
