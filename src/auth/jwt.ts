import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import jwt, { type Algorithm, type JwtHeader, type JwtPayload } from 'jsonwebtoken';
import jwksClient from 'jwks-rsa';
import { UnauthorizedError } from '../errors.js';
import type { Config } from '../config/config.js';
import { isRole, type Principal, type Role } from './permissions.js';

/**
 * Bearer-token verification following RFC 8725: the algorithm comes from our allowlist (never
 * from the token), only asymmetric algorithms are allowed so a public key can never double as
 * an HMAC secret, and iss, aud and exp are required.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export type KeySource = (header: JwtHeader) => Promise<KeyObject>;

export function staticKeySource(key: KeyObject): KeySource {
  return async () => key;
}

export function jwksKeySource(uri: string): KeySource {
  const client = jwksClient({ jwksUri: uri, cache: true, cacheMaxEntries: 10, cacheMaxAge: 10 * 60_000, rateLimit: true, jwksRequestsPerMinute: 10, timeout: 5_000 });
  return async (header) => {
    if (!header.kid) throw new UnauthorizedError('Token has no key id', 'invalid_token');
    try {
      const key = await client.getSigningKey(header.kid);
      return createPublicKey(key.getPublicKey());
    } catch {
      throw new UnauthorizedError('Token key is not known to the issuer', 'invalid_token');
    }
  };
}

export async function keySourceFromConfig(cfg: Config['jwt']): Promise<KeySource> {
  if (cfg.jwksUri) return jwksKeySource(cfg.jwksUri);
  if (cfg.publicKeyFile) return staticKeySource(createPublicKey(await readFile(cfg.publicKeyFile)));
  if (cfg.devSigningKey) return staticKeySource(createPublicKey(await readFile(cfg.devSigningKey.file)));
  throw new Error('no JWT verification key configured');
}

/** Reads a claim by exact name first (Auth0 namespaced claims contain dots), then as a dotted path (Keycloak realm_access.roles). */
export function readClaim(payload: Record<string, unknown>, name: string): unknown {
  if (name in payload) return payload[name];
  let cur: unknown = payload;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export class JwtVerifier implements TokenVerifier {
  constructor(private readonly cfg: Config['jwt'], private readonly keys: KeySource) {}

  async verify(token: string): Promise<Principal> {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw new UnauthorizedError('Malformed token', 'invalid_token');
    const alg = decoded.header.alg;
    if (!this.cfg.algorithms.includes(alg)) throw new UnauthorizedError('Token algorithm is not allowed', 'invalid_token');
    const key = await this.keys(decoded.header);
    const payload = await new Promise<JwtPayload>((resolve, reject) => {
      jwt.verify(token, key, {
        algorithms: this.cfg.algorithms as Algorithm[],
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        clockTolerance: this.cfg.clockSkewSeconds,
        complete: false,
      }, (err, result) => {
        if (err || !result || typeof result === 'string') reject(new UnauthorizedError(tokenErrorMessage(err), 'invalid_token'));
        else resolve(result);
      });
    });
    if (typeof payload.exp !== 'number') throw new UnauthorizedError('Token has no expiry', 'invalid_token');
    return this.principalFrom(payload);
  }

  private principalFrom(payload: JwtPayload): Principal {
    const sub = readClaim(payload, this.cfg.claims.sub);
    const tenant = readClaim(payload, this.cfg.claims.tenant);
    const rawRoles = readClaim(payload, this.cfg.claims.roles);
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) throw new UnauthorizedError('Token has no subject', 'invalid_token');
    if (typeof tenant !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(tenant)) throw new UnauthorizedError('Token has no valid tenant', 'invalid_token');
    const list = Array.isArray(rawRoles) ? rawRoles : typeof rawRoles === 'string' ? rawRoles.split(/[\s,]+/) : [];
    const roles = [...new Set(list.filter(isRole))] as Role[];
    return Object.freeze({ sub, tenant, roles: Object.freeze(roles) });
  }
}

function tokenErrorMessage(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'Token has expired';
  if (err instanceof jwt.NotBeforeError) return 'Token is not yet valid';
  if (err instanceof jwt.JsonWebTokenError) {
    if (/audience/.test(err.message)) return 'Token audience is not accepted';
    if (/issuer/.test(err.message)) return 'Token issuer is not accepted';
    return 'Token signature or format is invalid';
  }
  return 'Token is invalid';
}
