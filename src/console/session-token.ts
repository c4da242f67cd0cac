import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { readCookie, serializeCookie } from '../lib/cookies.js';

/**
 * The console's session cookie: `<id>.<secret>`. The id finds the row; the secret proves the
 * holder, checked against the row's SHA-256 of it in constant time. The CSRF token is an HMAC of
 * the secret: a page served to the session can carry it, a page of another site cannot compute
 * it, and the database never holds it.
 *
 * Over TLS the cookie is `__Host-callvault_console` (Secure, Path=/, no Domain: no subdomain or
 * other path can set or shadow it). The vault listens only on HTTPS; the plain name exists for an
 * HTTP test harness around buildApp, and is Secure too.
 */
const SECURE_NAME = '__Host-callvault_console';
const PLAIN_NAME = 'callvault_console';
const VALUE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export interface SessionSecret {
  readonly id: string;
  readonly secret: string;
}

export function newSessionSecret(): SessionSecret {
  return { id: randomUUID(), secret: randomBytes(32).toString('base64url') };
}

export function verifierOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function csrfTokenOf(secret: string): string {
  return createHmac('sha256', secret).update('callvault console csrf v1').digest('base64url');
}

/** Constant-time equality of two strings of any length (a length mismatch is not leaked either). */
export function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function sessionCookieName(req: Request): string {
  return req.secure ? SECURE_NAME : PLAIN_NAME;
}

/** The cookie's parts, or null when there is none; 'malformed' when one is present but unreadable. */
export function readSessionCookie(req: Request): SessionSecret | 'malformed' | null {
  const raw = readCookie(req.get('cookie'), sessionCookieName(req));
  if (raw === null) return null;
  const m = VALUE.exec(raw);
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : 'malformed';
}

export function sessionCookie(req: Request, value: SessionSecret, maxAgeSeconds: number): string {
  return serializeCookie(sessionCookieName(req), `${value.id}.${value.secret}`, { sameSite: 'Strict', secure: true, maxAgeSeconds });
}

export function clearedSessionCookie(req: Request): string {
  return serializeCookie(sessionCookieName(req), '', { sameSite: 'Strict', secure: true, maxAgeSeconds: 0 });
}
