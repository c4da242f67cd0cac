import { rejectToken } from './errors.js';

/**
 * Parsing and header rules for compact JWS tokens, applied before any key is looked up
 * (RFC 8725 §3.1, §3.11; RFC 7515 §4.1.11). Decoding here is strict and total: any input, however
 * malformed, ends in an UnauthorizedError, never in a parser exception.
 */

/** Longer tokens are refused before decoding: no identity provider needs more, and it bounds the work. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * Headers that would let the token choose its own verification key (jku, x5u fetch one; jwk,
 * x5c carry one). Keys come only from configuration, so these tokens are refused outright.
 */
const KEY_BEARING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** Explicit typing (RFC 8725 §3.11): when `typ` is present it must say this is a JWT access token. */
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const KID = /^[\x21-\x7e]{1,256}$/;

export interface JoseHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly [name: string]: unknown;
}

export interface DecodedToken {
  readonly header: JoseHeader;
  readonly payload: Readonly<Record<string, unknown>>;
}

function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  if (!BASE64URL.test(segment)) throw rejectToken('malformed_token', `Token ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw rejectToken('malformed_token', `Token ${what} is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw rejectToken('malformed_token', `Token ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Never accepted, whatever the allowlist says: `none`, and HMAC whose secret could be our public key. */
export function isForbiddenAlgorithm(alg: string): boolean {
  return /^(?:none|HS\d*)$/i.test(alg);
}

export function checkHeader(header: Record<string, unknown>, allowed: readonly string[]): JoseHeader {
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || isForbiddenAlgorithm(alg) || !allowed.includes(alg)) {
    throw rejectToken('unsupported_algorithm', `Token algorithm is not accepted (allowed: ${allowed.join(', ')})`);
  }
  // We implement no JWS extensions, so any `crit` names one we do not understand (RFC 7515 §4.1.11).
  if (Object.hasOwn(header, 'crit')) throw rejectToken('unsupported_token_header', 'Token header "crit" names extensions this service does not implement');
  for (const name of KEY_BEARING_HEADERS) {
    if (Object.hasOwn(header, name)) throw rejectToken('unsupported_token_header', `Token header "${name}" is not accepted: keys come only from configuration`);
  }
  if (typ !== undefined && (typeof typ !== 'string' || !ACCEPTED_TYP.has(typ.toLowerCase()))) {
    throw rejectToken('unsupported_token_header', 'Token type must be JWT or at+jwt');
  }
  if (kid !== undefined && (typeof kid !== 'string' || !KID.test(kid))) throw rejectToken('malformed_token', 'Token key id is not valid');
  return header as JoseHeader;
}

export function decodeToken(token: string, allowedAlgorithms: readonly string[]): DecodedToken {
  if (typeof token !== 'string' || token.length === 0) throw rejectToken('malformed_token', 'Token is empty');
  if (token.length > MAX_TOKEN_LENGTH) throw rejectToken('token_too_large', `Tokens are limited to ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw rejectToken('malformed_token', 'Token is not a compact JWS (header.payload.signature)');
  const [rawHeader = '', rawPayload = '', signature = ''] = parts;
  // The header first, so that an unsigned `alg: none` token is named for what it is.
  const header = checkHeader(decodeJsonSegment(rawHeader, 'header'), allowedAlgorithms);
  if (!BASE64URL.test(signature)) throw rejectToken('malformed_token', 'Token signature is missing or not base64url');
  return { header, payload: decodeJsonSegment(rawPayload, 'payload') };
}
