import type { NextFunction, Request, Response } from 'express';
import { BadRequestError } from '../errors.js';

/**
 * Edge validation of input that no route can match, store or audit faithfully, so that it is
 * refused with 400 before any handler (or PostgreSQL) sees it:
 * - a request target that is not ASCII, or whose percent-encoding is broken or not UTF-8:
 *   express would throw decoding a route parameter, and the query parser would silently turn
 *   it into U+FFFD;
 * - NUL anywhere in the decoded path or query: PostgreSQL text columns refuse U+0000;
 * - an HTTP/1.1 request without Host (RFC 9112 §3.2), which the HTTP server lets through so
 *   that the refusal is problem+json like every other;
 * - JSON strings (keys or values) holding NUL or a lone UTF-16 surrogate: text columns refuse
 *   the first and silently rewrite the second, so an audited value would no longer be the
 *   stored one and the audit hash chain would break.
 */
const NON_ASCII_OR_CONTROL = /[^\x21-\x7e]/;
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function decodes(component: string): boolean {
  try {
    return !decodeURIComponent(component).includes('\u0000');
  } catch {
    return false;
  }
}

/** Path and query alike: `&`, `=` and `+` decode to themselves, so one decoding checks every component. */
function targetProblem(url: string): string | null {
  if (NON_ASCII_OR_CONTROL.test(url)) return 'The request target must be printable ASCII';
  return decodes(url) ? null : 'The request target is not valid percent-encoded UTF-8, or holds a NUL character';
}

export function requestTargetGuard(req: Request, _res: Response, next: NextFunction): void {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined) {
    next(new BadRequestError('HTTP/1.1 requests must carry a Host header', 'missing_host'));
    return;
  }
  const problem = targetProblem(req.originalUrl);
  next(problem ? new BadRequestError(problem, 'malformed_url') : undefined);
}

/** The first string in `value` PostgreSQL can't store as sent; iterative, since nesting depth is the client's. */
function firstUnstorable(value: unknown): string | null {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return v;
    } else if (v !== null && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v)) {
        if (UNSTORABLE.test(key)) return key;
        pending.push(inner);
      }
    }
  }
  return null;
}

export function jsonTextGuard(req: Request, _res: Response, next: NextFunction): void {
  const bad = firstUnstorable(req.body);
  next(bad === null ? undefined : new BadRequestError('JSON strings must not contain NUL characters or unpaired surrogates', 'invalid_body'));
}
