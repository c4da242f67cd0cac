import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Principal } from './permissions.js';

/**
 * Tokens that passed every check of JwtVerifier, remembered so that a client sending the same
 * token on each request pays one signature verification, not one per request. The key is the
 * SHA-256 of the whole token: a hit means the very bytes that were verified, and looking a hash
 * up leaks nothing an attacker could use to build one. An entry is dropped at the token's exp
 * (the skew tolerance is not extended to it: past exp the token is verified again) and after at
 * most `maxAgeMs` whatever its exp, which bounds how long a key withdrawn by the issuer keeps
 * working below the JWKS cache's own age. Failures are never remembered.
 */
export class VerifiedTokens {
  private readonly entries: LRUCache<string, { readonly principal: Principal; readonly until: number }>;

  constructor(max: number, private readonly maxAgeMs: number) {
    this.entries = new LRUCache({ max });
  }

  get(token: string): Principal | undefined {
    const key = digest(token);
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (Date.now() < hit.until) return hit.principal;
    this.entries.delete(key);
    return undefined;
  }

  /** `expSeconds`: the token's exp claim. */
  remember(token: string, principal: Principal, expSeconds: number): void {
    const until = Math.min(expSeconds * 1000, Date.now() + this.maxAgeMs);
    if (until > Date.now()) this.entries.set(digest(token), { principal, until });
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
