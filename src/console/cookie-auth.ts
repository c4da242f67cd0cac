import type { Request } from 'express';
import type { AuditActor } from '../audit/actor.js';
import type { Principal } from '../auth/permissions.js';
import { UnauthorizedError } from '../errors.js';
import type { CookieAuthenticator } from '../http/secure-router.js';
import { readSessionCookie, sameSecret } from './session-token.js';
import type { ConsoleSessions, LiveSession } from './sessions.js';

/** amr values (RFC 8176) that mean a second factor was used. */
const MFA_AMR: ReadonlySet<string> = new Set(['mfa', 'otp', 'hwk']);

export function isMfaSession(session: Pick<LiveSession, 'amr' | 'acr'>, mfaAcrValues: readonly string[]): boolean {
  return session.amr.some((m) => MFA_AMR.has(m)) || (session.acr !== null && mfaAcrValues.includes(session.acr));
}

/** The live session of a request's cookie, or null (none, malformed, ended or expired). */
export async function sessionOf(sessions: ConsoleSessions, req: Request, base: Omit<AuditActor, 'sub' | 'role'>): Promise<LiveSession | null> {
  const cookie = readSessionCookie(req);
  if (cookie === null || cookie === 'malformed') return null;
  return sessions.resolve(cookie, base);
}

/**
 * Console cookies as credentials for the /v1 API (src/http/secure-router.ts): the session's
 * principal, with the same permissions, rate limit and audit actor as a bearer token's.
 */
export function consoleCookieAuth(
  sessions: ConsoleSessions, mfaAcrValues: readonly string[], principalLimit?: (principal: Principal) => Promise<void>,
): CookieAuthenticator {
  return {
    authenticate: async (req, base) => {
      if (readSessionCookie(req) === null) return null;
      const session = await sessionOf(sessions, req, base);
      if (!session) throw new UnauthorizedError('The console session has ended or expired; sign in again', 'session_expired');
      await principalLimit?.(session.principal);
      return {
        principal: session.principal,
        csrfValid: sameSecret(req.get('x-csrf-token'), session.csrfToken),
        session: { id: session.id, mfa: isMfaSession(session, mfaAcrValues) },
      };
    },
  };
}
