import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { JwtVerifier, staticKeySource } from '../../src/auth/jwt.js';
import { VerifiedTokens } from '../../src/auth/verified-tokens.js';
import { loadConfig } from '../../src/config/config.js';
import { UnauthorizedError } from '../../src/errors.js';
import { claims, ecKeyPair, externalIssuerEnv, now, signJwt } from './support.js';

/** A verifier whose key source counts its calls: each call is one full verification. */
async function countingVerifier(): Promise<{ verifier: JwtVerifier; sign: (over?: Record<string, unknown>) => string; lookups: () => number; tamper: (t: string) => string }> {
  const keys = ecKeyPair();
  const config = loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', ...(await externalIssuerEnv(keys)) });
  const source = staticKeySource(keys.publicKey);
  let lookups = 0;
  const verifier = new JwtVerifier(config.jwt, async (header) => { lookups++; return source(header); });
  const tamper = (t: string): string => `${t.slice(0, -4)}${t.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  return { verifier, sign: (over = {}) => signJwt(keys.privateKey, claims(over)), lookups: () => lookups, tamper };
}

describe('verified bearer tokens are remembered', () => {
  test('the same token is verified once; another token, or the same claims with a bad signature, are verified in full', async () => {
    const { verifier, sign, lookups, tamper } = await countingVerifier();
    const token = sign();
    for (let i = 0; i < 5; i++) assert.equal((await verifier.verify(token)).sub, 'pbx-1');
    assert.equal(lookups(), 1);
    assert.equal((await verifier.verify(sign({ sub: 'pbx-2' }))).sub, 'pbx-2');
    assert.equal(lookups(), 2);
    await assert.rejects(verifier.verify(tamper(token)), (err: unknown) => err instanceof UnauthorizedError);
    assert.equal(lookups(), 3);
    await assert.rejects(verifier.verify(tamper(token)), (err: unknown) => err instanceof UnauthorizedError, 'a refusal is not remembered');
    assert.equal(lookups(), 4);
  });

  test('an entry ends at the token\'s exp and at the cache\'s maximum age', async () => {
    const principal = Object.freeze({ sub: 's', tenant: 'acme', roles: Object.freeze(['pbx' as const]) });
    const byExp = new VerifiedTokens(10, 60_000);
    byExp.remember('expiring', principal, (Date.now() + 80) / 1000);
    byExp.remember('expired', principal, now() - 1);
    assert.equal(byExp.get('expiring'), principal);
    assert.equal(byExp.get('expired'), undefined);
    const byAge = new VerifiedTokens(10, 80);
    byAge.remember('long-lived', principal, now() + 3600);
    assert.equal(byAge.get('long-lived'), principal);
    await sleep(120);
    assert.equal(byExp.get('expiring'), undefined, 'past exp');
    assert.equal(byAge.get('long-lived'), undefined, 'past the maximum age');
  });

  test('the number of entries is bounded', () => {
    const principal = Object.freeze({ sub: 's', tenant: 'acme', roles: Object.freeze(['pbx' as const]) });
    const cache = new VerifiedTokens(2, 60_000);
    for (const t of ['a', 'b', 'c']) cache.remember(t, principal, now() + 60);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('c'), principal);
  });
});
