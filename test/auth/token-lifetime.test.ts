import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { assertDenied, claims, externalIssuerEnv, now, rsaKeyPair, signJwt, upload, without, type KeyPair } from './support.js';

/**
 * A token is a bearer credential: whoever holds a copy can use it until exp. An issuer that mints
 * century-long tokens (by mistake or not) is refused: the lifetime, exp - iat (or exp - now
 * without iat), may not exceed JWT_MAX_TTL (default PT24H) plus the clock skew.
 */
const DAY = 86_400;

describe('token lifetime limit', () => {
  let issuer: KeyPair;
  let vault: TestVault;
  let short: TestVault;
  const token = (over: Record<string, unknown>, base = claims()): string => signJwt(issuer.privateKey, { ...base, ...over });

  before(async () => {
    issuer = rsaKeyPair();
    [vault, short] = await Promise.all([
      startVault({ env: await externalIssuerEnv(issuer) }),
      startVault({ env: await externalIssuerEnv(issuer, { JWT_MAX_TTL: 'PT1H' }) }),
    ]);
  });
  after(async () => { await Promise.all([vault.close(), short.close()]); });

  test('a 100-year token is refused with 401 and audited', async () => {
    const t = now();
    await assertDenied(vault, await upload(vault, token({ iat: t, exp: t + 100 * 365 * DAY })), 401, 'token_lifetime_too_long');
  });

  test('the default allows 24 hours (plus the skew) and not a minute more', async () => {
    const t = now();
    assert.equal((await upload(vault, token({ iat: t, exp: t + DAY }))).status, 201);
    await assertDenied(vault, await upload(vault, token({ iat: t, exp: t + DAY + 31 + 60 })), 401, 'token_lifetime_too_long');
    // Issued 23 hours ago for 25 hours: it has 2 hours left, but its lifetime is what counts.
    await assertDenied(vault, await upload(vault, token({ iat: t - 23 * 3600, exp: t + 2 * 3600 })), 401, 'token_lifetime_too_long');
  });

  test('without iat, or with iat in the future, the remaining validity is measured', async () => {
    const t = now();
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims({ exp: t + 2 * DAY }), 'iat'))), 401, 'token_lifetime_too_long');
    assert.equal((await upload(vault, signJwt(issuer.privateKey, without(claims({ exp: t + 3600 }), 'iat')))).status, 201);
    await assertDenied(vault, await upload(vault, token({ iat: t + 50 * 365 * DAY - 3600, exp: t + 50 * 365 * DAY })), 401, 'token_lifetime_too_long');
  });

  test('JWT_MAX_TTL is configurable and validated', async () => {
    const t = now();
    assert.equal(short.config.jwt.maxTtlSeconds, 3600);
    assert.equal((await upload(short, token({ iat: t, exp: t + 3600 }))).status, 201);
    await assertDenied(short, await upload(short, token({ iat: t, exp: t + 2 * 3600 })), 401, 'token_lifetime_too_long');
    assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', JWT_MAX_TTL: '24h' }), (err: unknown) => err instanceof ConfigError && err.variable === 'JWT_MAX_TTL');
  });
});
