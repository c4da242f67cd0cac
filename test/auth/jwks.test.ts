import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jwksKeySource, JwtVerifier } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config/config.js';
import { AppError, UnauthorizedError } from '../../src/errors.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { newSigningKey, startJwksServer, type JwksServer, type SigningKey } from './jwks-server.js';
import { assertDenied, claims, GENEROUS_LIMITS, signJwt, upload, AUDIENCE, ISSUER } from './support.js';

const sign = (key: SigningKey, over: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string =>
  signJwt(key.privateKey, claims(over), { alg: key.alg, kid: key.kid, ...header });

const refusedWith = (code: string) => (err: unknown): boolean => err instanceof UnauthorizedError && err.code === code;

describe('JWKS key source', () => {
  let idp: JwksServer;
  let k1: SigningKey;
  let k2: SigningKey;
  let verifier: JwtVerifier;
  const cfg = () => loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_URI: idp.uri }).jwt;

  before(async () => {
    k1 = newSigningKey('key-2026-01');
    k2 = newSigningKey('key-2026-02', 'ES256');
    idp = await startJwksServer([k1]);
    verifier = new JwtVerifier(cfg(), jwksKeySource(idp.uri, { requestsPerMinute: 3 }));
  });
  after(async () => { await idp.close(); });

  test('keys are fetched once, cached per kid, and a rotated-in kid triggers one refetch', async () => {
    assert.equal((await verifier.verify(sign(k1))).sub, 'pbx-1');
    assert.equal(idp.fetches, 1);
    for (let i = 0; i < 5; i++) await verifier.verify(sign(k1));
    assert.equal(idp.fetches, 1, 'a known kid is served from the cache');
    idp.publish([k1, k2]);
    assert.equal((await verifier.verify(sign(k2))).sub, 'pbx-1');
    assert.equal(idp.fetches, 2, 'the unknown kid caused exactly one fetch');
    idp.publish([k2]);
    await verifier.verify(sign(k2));
    assert.equal(idp.fetches, 2);
  });

  test('unknown kids are refused and their refetches are rate-limited', async () => {
    const before = idp.fetches;
    const forger = newSigningKey('nobody');
    for (let i = 0; i < 12; i++) {
      await assert.rejects(verifier.verify(signJwt(forger.privateKey, claims(), { kid: `made-up-${i}` })), refusedWith('unknown_key'));
    }
    const spent = idp.fetches - before;
    assert.ok(spent >= 1 && spent <= 3, `${spent} fetches for 12 unknown kids with a limit of 3/minute`);
    assert.equal((await verifier.verify(sign(k2))).sub, 'pbx-1', 'cached keys keep working while the limit holds');
  });

  test('a kid is required, and the JWK alg must match the token alg', async () => {
    await assert.rejects(verifier.verify(signJwt(k2.privateKey, claims(), { alg: 'ES256' })), refusedWith('unknown_key'));
    const rsaUnderEcKid = signJwt(k1.privateKey, claims(), { alg: 'RS256', kid: k2.kid });
    await assert.rejects(verifier.verify(rsaUnderEcKid), refusedWith('unknown_key'));
  });

  test('an unreachable JWKS endpoint is a 503, not a 401 or a 500', async () => {
    const k3 = newSigningKey('key-2026-03');
    const fresh = new JwtVerifier(cfg(), jwksKeySource(idp.uri));
    idp.setAvailable(false);
    try {
      await assert.rejects(fresh.verify(sign(k3)), (err: unknown) => err instanceof AppError && err.status === 503 && err.code === 'identity_provider_unavailable');
    } finally {
      idp.setAvailable(true);
    }
    const gone = new JwtVerifier(cfg(), jwksKeySource('http://127.0.0.1:9/jwks.json', { timeoutMs: 1000 }));
    await assert.rejects(gone.verify(sign(k3)), (err: unknown) => err instanceof AppError && err.status === 503);
  });

  test('symmetric and private keys in the JWKS are never used', async () => {
    const k4 = newSigningKey('key-2026-04');
    const secret = { kty: 'oct', kid: 'hmac-1', k: Buffer.from('shared-secret').toString('base64url'), alg: 'HS256' };
    const priv = { ...k4.privateKey.export({ format: 'jwk' }), kid: k4.kid, alg: 'RS256' };
    const fresh = new JwtVerifier(cfg(), jwksKeySource(idp.uri));
    idp.publish([k2], [secret, priv]);
    await assert.rejects(fresh.verify(signJwt(k4.privateKey, claims(), { kid: k4.kid })), (err: unknown) => err instanceof AppError && err.status === 401);
    await assert.rejects(fresh.verify(`${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'hmac-1' })).toString('base64url')}.e30.c2ln`), refusedWith('unsupported_algorithm'));
    idp.publish([k2]);
  });
});

describe('a vault verifying against a rotating JWKS', () => {
  let idp: JwksServer;
  let vault: TestVault;
  const old = newSigningKey('2026-q1');
  const next = newSigningKey('2026-q2', 'ES256');

  before(async () => {
    idp = await startJwksServer([old]);
    vault = await startVault({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_URI: idp.uri, ...GENEROUS_LIMITS } });
  });
  after(async () => {
    await vault.close();
    await idp.close();
  });

  test('tokens follow the issuer through a key rotation', async () => {
    assert.equal((await upload(vault, sign(old))).status, 201);
    await assertDenied(vault, await upload(vault, sign(next)), 401, 'unknown_key');
    idp.publish([old, next]);
    assert.equal((await upload(vault, sign(next))).status, 201);
    assert.equal((await upload(vault, sign(old))).status, 201);
  });

  test('a token from the JWKS issuer is still checked for iss, aud and exp', async () => {
    await assertDenied(vault, await upload(vault, sign(next, { aud: 'other' })), 401, 'invalid_audience');
    await assertDenied(vault, await upload(vault, sign(next, { iss: 'https://other.example' })), 401, 'invalid_issuer');
    await assertDenied(vault, await upload(vault, sign(next, { exp: Math.floor(Date.now() / 1000) - 120 })), 401, 'token_expired');
  });

  test('a JWKS outage answers 503 problem+json for a key not yet cached', async () => {
    const later = newSigningKey('2026-q3');
    idp.setAvailable(false);
    try {
      const res = await upload(vault, sign(later));
      assert.equal(res.status, 503);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json<{ code: string }>().code, 'identity_provider_unavailable');
      assert.equal((await upload(vault, sign(next))).status, 201, 'cached keys still verify');
    } finally {
      idp.setAvailable(true);
    }
  });
});
