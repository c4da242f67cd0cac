import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import jwt, { type Algorithm } from 'jsonwebtoken';
import type { Config } from '../config/config.js';
import { readPrivateFile } from '../config/secrets.js';
import { AppError } from '../errors.js';
import { principalFromClaims } from './claims.js';
import { rejectToken } from './errors.js';
import { jwksKeySource, type KeySource } from './jwks.js';
import type { Principal } from './permissions.js';
import { decodeToken, type JoseHeader } from './token-format.js';
import { VerifiedTokens } from './verified-tokens.js';

/**
 * Bearer-token verification following RFC 8725:
 * - the algorithm comes from our allowlist, never from the token alone; `none` and HS* are never
 *   accepted, so a public key can never double as an HMAC secret;
 * - keys come only from configuration (a PEM file or the issuer's JWKS): jku, x5u, jwk and x5c
 *   headers are refused, as is any `crit` header, and `typ`, when present, must be JWT or at+jwt;
 * - iss, aud and exp are required, nbf is honoured, with JWT_CLOCK_SKEW_SECONDS of tolerance;
 * - a token may live at most JWT_MAX_TTL (exp - iat, or exp - now without iat);
 * - tokens above 8 KiB are refused before decoding.
 * Every failure is an UnauthorizedError (401) whose code names the reason, except an unreachable
 * JWKS endpoint, which is a 503.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export type { KeySource } from './jwks.js';
export { jwksKeySource, type JwksOptions } from './jwks.js';
export { readClaim } from './claims.js';

export function staticKeySource(key: KeyObject): KeySource {
  return async () => key;
}

export async function keySourceFromConfig(cfg: Config['jwt']): Promise<KeySource> {
  if (cfg.jwksUri) return jwksKeySource(cfg.jwksUri);
  if (cfg.publicKeyFile) return staticKeySource(createPublicKey(await readFile(cfg.publicKeyFile)));
  if (cfg.devSigningKey) return staticKeySource(createPublicKey(await readPrivateFile(cfg.devSigningKey.file, 'JWT_DEV_SIGNING_KEY_FILE')));
  throw new Error('no JWT verification key configured');
}

/** Verified tokens remembered (src/auth/verified-tokens.ts): how many, and for at most how long. */
const VERIFIED_TOKENS_MAX = 10_000;
const VERIFIED_TOKEN_MAX_AGE_MS = 60_000;

export class JwtVerifier implements TokenVerifier {
  private readonly verified = new VerifiedTokens(VERIFIED_TOKENS_MAX, VERIFIED_TOKEN_MAX_AGE_MS);

  constructor(private readonly cfg: Config['jwt'], private readonly keys: KeySource) {}

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known) return known;
    try {
      const { header } = decodeToken(token, this.cfg.algorithms);
      const key = await this.keys(header);
      const claims = this.verifySignatureAndClaims(token, header, key);
      const principal = principalFromClaims(claims, this.cfg.claims);
      this.verified.remember(token, principal, claims.exp);
      return principal;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw rejectToken('invalid_token', 'Token could not be verified');
    }
  }

  private verifySignatureAndClaims(token: string, header: JoseHeader, key: KeyObject): Record<string, unknown> & { exp: number } {
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, {
        algorithms: [header.alg as Algorithm],
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        clockTolerance: this.cfg.clockSkewSeconds,
        complete: false,
      });
    } catch (err) {
      throw rejectionFor(err);
    }
    if (!payload || typeof payload !== 'object') throw rejectToken('malformed_token', 'Token payload is not a JSON object');
    const claims = payload as Record<string, unknown>;
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw rejectToken('invalid_claims', 'Token has no expiry (exp)');
    if (lifetimeSeconds(claims.exp, claims.iat) > this.cfg.maxTtlSeconds + this.cfg.clockSkewSeconds) {
      throw rejectToken('token_lifetime_too_long', `Token lifetime exceeds JWT_MAX_TTL (${this.cfg.maxTtlSeconds} s)`);
    }
    return { ...claims, exp: claims.exp };
  }
}

/**
 * exp - iat, measured from now when iat is absent or in the future: a stolen token is only
 * useful for as long as it stays valid, so an issuer minting century-long tokens is refused
 * rather than trusted, and a future iat cannot shorten the measured lifetime.
 */
function lifetimeSeconds(exp: number, iat: unknown): number {
  const now = Date.now() / 1000;
  const issued = typeof iat === 'number' && Number.isFinite(iat) ? Math.min(iat, now) : now;
  return exp - issued;
}

function rejectionFor(err: unknown): AppError {
  if (err instanceof jwt.TokenExpiredError) return rejectToken('token_expired', 'Token has expired');
  if (err instanceof jwt.NotBeforeError) return rejectToken('token_not_yet_valid', 'Token is not yet valid (nbf)');
  const message = err instanceof Error ? err.message : '';
  if (/^jwt audience invalid/.test(message)) return rejectToken('invalid_audience', 'Token audience is not accepted');
  if (/^jwt issuer invalid/.test(message)) return rejectToken('invalid_issuer', 'Token issuer is not accepted');
  if (/signature/.test(message)) return rejectToken('invalid_signature', 'Token signature is invalid');
  return rejectToken('invalid_token', 'Token is invalid');
}
