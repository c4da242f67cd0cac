import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JwksClient, SigningKey } from 'jwks-rsa';
import { IdentityProviderUnavailableError, rejectToken } from './errors.js';
import type { JoseHeader } from './token-format.js';

/**
 * Verification keys from the identity provider's JWKS document. Keys are cached per kid; a kid
 * not in the cache triggers one fetch of the document (so a key the provider has just rotated in
 * is picked up at once), and those fetches are rate-limited so that tokens with made-up kids
 * cannot turn the vault into a load generator against the provider. A key id is always required
 * and the key's own `alg`, when published, must match the token's.
 */
export type KeySource = (header: JoseHeader) => Promise<KeyObject>;

export interface JwksOptions {
  /** How long a fetched key is trusted before the document is read again (default 10 minutes). */
  readonly cacheMaxAgeMs?: number;
  /** Fetches per minute caused by unknown kids (default 10). */
  readonly requestsPerMinute?: number;
  readonly timeoutMs?: number;
  /** Largest JWKS document accepted. */
  readonly maxBytes?: number;
}

const SIGNING_KEY_NOT_FOUND = 'SigningKeyNotFoundError';
const RATE_LIMITED = 'JwksRateLimitError';

export function jwksKeySource(uri: string, opts: JwksOptions = {}): KeySource {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  // jwks-rsa (and jose beneath it) is loaded on the first token, never by a vault that uses no JWKS.
  let client: Promise<JwksClient> | undefined;
  const connect = async (): Promise<JwksClient> => (await import('jwks-rsa')).default({
    jwksUri: uri,
    cache: true,
    cacheMaxEntries: 32,
    cacheMaxAge: opts.cacheMaxAgeMs ?? 10 * 60_000,
    rateLimit: true,
    jwksRequestsPerMinute: opts.requestsPerMinute ?? 10,
    timeout: timeoutMs,
    fetcher: (url) => fetchJwks(url, timeoutMs, opts.maxBytes ?? 1024 * 1024),
  });
  return async (header) => {
    if (!header.kid) throw rejectToken('unknown_key', 'Token has no key id (kid)');
    let signingKey: SigningKey;
    try {
      client ??= connect();
      signingKey = await (await client).getSigningKey(header.kid);
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === SIGNING_KEY_NOT_FOUND || name === RATE_LIMITED) {
        throw rejectToken('unknown_key', 'Token was signed with a key the issuer does not publish');
      }
      throw new IdentityProviderUnavailableError(undefined, err);
    }
    if (signingKey.alg && signingKey.alg !== header.alg) {
      throw rejectToken('unknown_key', 'Token algorithm does not match the algorithm of its key');
    }
    return createPublicKey(signingKey.getPublicKey());
  };
}

/** A bounded JWKS fetch: no redirects, a deadline, and a size cap on the document. */
async function fetchJwks(url: string, timeoutMs: number, maxBytes: number): Promise<{ keys: unknown }> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok || !res.body) throw new Error(`JWKS endpoint answered ${res.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Error(`JWKS document exceeds ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  const doc: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const keys = doc && typeof doc === 'object' ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new Error('JWKS document has no "keys" array');
  return { keys };
}
