import type { ByteRange } from './types.js';

/** S3's own limit on key length, in UTF-8 bytes (our keys are ASCII). */
const MAX_KEY_LENGTH = 1024;
const KEY_CHARS = /^[A-Za-z0-9._\-/=]*$/;

/**
 * Keys must mean the same thing on every driver: on a filesystem `a//b`, `a/./b` and `a/b` are one
 * file and `..` escapes the root, so only plain relative segments are allowed. A segment may not
 * start with a dot, which also keeps keys away from the fs driver's `.tmp` directory.
 * Invalid keys are programming errors, hence a plain Error.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new Error('Object key must be a non-empty string');
  assertKeyText(key, 'key');
  if (key.endsWith('/')) throw new Error('Object key must not end with "/"');
}

/** A list prefix: empty, or a key-like string that may end with "/". */
export function assertValidPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw new Error('Object key prefix must be a string');
  if (prefix.length === 0) return;
  assertKeyText(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
}

function assertKeyText(text: string, what: string): void {
  if (text.length > MAX_KEY_LENGTH) throw new Error(`Object ${what} is longer than ${MAX_KEY_LENGTH} bytes`);
  if (!KEY_CHARS.test(text)) throw new Error(`Object ${what} contains characters outside [A-Za-z0-9._-/=]`);
  if (text.includes('..')) throw new Error(`Object ${what} must not contain ".."`);
  for (const segment of text.split('/')) {
    if (segment.length === 0) throw new Error(`Object ${what} must not have empty segments or a leading "/"`);
    if (segment.startsWith('.')) throw new Error(`Object ${what} segments must not start with "."`);
  }
}

export function assertValidRange(range: ByteRange): void {
  const { start, endInclusive } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endInclusive) || start < 0 || endInclusive < start) {
    throw new Error(`Invalid byte range ${String(start)}-${String(endInclusive)}`);
  }
}

export function assertValidContentLength(contentLength: number | undefined): void {
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw new Error(`Invalid contentLength ${String(contentLength)}`);
  }
}
