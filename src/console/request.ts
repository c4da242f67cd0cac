import type { Request, Response } from 'express';
import type { AuditActor } from '../audit/actor.js';
import { clientIp, userAgentOf } from '../http/secure-router.js';
import { requestIdOf } from '../http/problem.js';

/** The request's side of an audit actor (address, user agent, request id). */
export function requestActor(req: Request, res: Response): Omit<AuditActor, 'sub' | 'role'> {
  return { ip: clientIp(req), userAgent: userAgentOf(req), requestId: requestIdOf(res) };
}

/**
 * The Content-Security-Policy of every /console response: everything from the vault's own origin,
 * no inline script or style, no eval, no framing, forms post only here.
 */
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "media-src 'self' blob:",
  "connect-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "object-src 'none'",
].join('; ');
