import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JwtVerifier, readClaim, staticKeySource } from '../../src/auth/jwt.js';
import { parseRoles } from '../../src/auth/claims.js';
import { loadConfig } from '../../src/config/config.js';
import { UnauthorizedError } from '../../src/errors.js';
import { claims, externalIssuerEnv, rsaKeyPair, signJwt, without, AUDIENCE, ISSUER } from './support.js';

/**
 * Claim remapping as configured through the environment, for the token shapes of the three
 * identity providers docs/identity.md describes, and the verifier's totality on garbage.
 */
const keys = rsaKeyPair();

async function verifierFor(env: Record<string, string>): Promise<JwtVerifier> {
  const config = loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', ...(await externalIssuerEnv(keys)), ...env });
  return new JwtVerifier(config.jwt, staticKeySource(keys.publicKey));
}

const std = { iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 };

describe('claim remapping', () => {
  test('Keycloak: realm roles under realm_access.roles, tenant from a user-attribute mapper', async () => {
    const v = await verifierFor({ JWT_ROLES_CLAIM: 'realm_access.roles', JWT_TENANT_CLAIM: 'tenant_id', JWT_SUB_CLAIM: 'preferred_username' });
    const token = signJwt(keys.privateKey, {
      ...std, sub: 'f3a1c2d4-0000-4000-8000-000000000001', preferred_username: 'alice', tenant_id: 'acme',
      realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-callvault', 'supervisor'] },
      resource_access: { account: { roles: ['manage-account'] } }, typ: 'Bearer', azp: 'callvault-web',
    });
    assert.deepEqual(await v.verify(token), { sub: 'alice', tenant: 'acme', roles: ['supervisor'] });
  });

  test('Auth0: namespaced claims whose names contain dots and slashes', async () => {
    const v = await verifierFor({ JWT_ROLES_CLAIM: 'https://callvault.example/roles', JWT_TENANT_CLAIM: 'https://callvault.example/tenant' });
    const token = signJwt(keys.privateKey, {
      ...std, sub: 'auth0|64f1c0ffee', 'https://callvault.example/roles': ['compliance', 'agent'],
      'https://callvault.example/tenant': 'acme', scope: 'openid profile', gty: 'password',
    }, { typ: 'at+jwt' });
    assert.deepEqual(await v.verify(token), { sub: 'auth0|64f1c0ffee', tenant: 'acme', roles: ['compliance', 'agent'] });
  });

  test('Okta: roles from the groups claim, tenant from a custom claim', async () => {
    const v = await verifierFor({ JWT_ROLES_CLAIM: 'groups', JWT_TENANT_CLAIM: 'callvault_tenant' });
    const token = signJwt(keys.privateKey, {
      ...std, sub: '00u1abcdEFGH2ijk3x7', uid: '00u1abcdEFGH2ijk3x7', cid: '0oa1', groups: ['Everyone', 'pbx'], callvault_tenant: 'acme-eu',
    });
    assert.deepEqual(await v.verify(token), { sub: '00u1abcdEFGH2ijk3x7', tenant: 'acme-eu', roles: ['pbx'] });
  });

  test('a remapped claim that is missing fails closed', async () => {
    const v = await verifierFor({ JWT_ROLES_CLAIM: 'realm_access.roles', JWT_TENANT_CLAIM: 'tenant_id' });
    await assert.rejects(v.verify(signJwt(keys.privateKey, { ...std, sub: 'a', tenant: 'acme', realm_access: { roles: ['pbx'] } })), (err: unknown) => {
      return err instanceof UnauthorizedError && err.code === 'invalid_claims';
    });
    const p = await v.verify(signJwt(keys.privateKey, { ...std, sub: 'a', tenant_id: 'acme', roles: ['pbx'] }));
    assert.deepEqual(p.roles, [], 'the default roles claim is not consulted once remapped');
  });

  test('readClaim follows only own properties', () => {
    const payload = JSON.parse('{"a":{"b":["x"]},"__proto__":{"polluted":1},"dotted.name":"exact","dotted":{"name":"path"}}') as Record<string, unknown>;
    assert.deepEqual(readClaim(payload, 'a.b'), ['x']);
    assert.equal(readClaim(payload, 'dotted.name'), 'exact');
    assert.equal(readClaim(payload, 'constructor'), undefined);
    assert.equal(readClaim(payload, 'a.constructor'), undefined);
    assert.equal(readClaim(payload, 'toString'), undefined);
    assert.equal(readClaim(payload, 'a.b.length'), undefined);
  });

  test('roles: array, space or comma string; unknown names and non-strings ignored', () => {
    assert.deepEqual(parseRoles(['pbx', 'pbx', ' agent ', 7, null, { r: 'admin' }, 'Admin']), ['pbx', 'agent']);
    assert.deepEqual(parseRoles('supervisor compliance'), ['supervisor', 'compliance']);
    assert.deepEqual(parseRoles('supervisor,compliance, admin'), ['supervisor', 'compliance', 'admin']);
    assert.deepEqual(parseRoles({ pbx: true }), []);
    assert.deepEqual(parseRoles(undefined), []);
  });
});

describe('configuration', () => {
  test('JWT_ALGORITHMS refuses none and HMAC', async () => {
    const env = await externalIssuerEnv(keys);
    for (const algorithms of ['none', 'RS256,none', 'HS256', 'RS256,HS512', ' , ', 'rs256']) {
      assert.throws(() => loadConfig({ ...env, JWT_ALGORITHMS: algorithms }), /JWT_ALGORITHMS/, algorithms);
    }
    assert.deepEqual(loadConfig({ ...env, JWT_ALGORITHMS: 'ES384, PS256' }).jwt.algorithms, ['ES384', 'PS256']);
  });

  test('JWT_CLOCK_SKEW_SECONDS is bounded', async () => {
    const env = await externalIssuerEnv(keys);
    assert.throws(() => loadConfig({ ...env, JWT_CLOCK_SKEW_SECONDS: '3600' }), /JWT_CLOCK_SKEW_SECONDS/);
    assert.equal(loadConfig({ ...env, JWT_CLOCK_SKEW_SECONDS: '5' }).jwt.clockSkewSeconds, 5);
  });

  test('a JWKS URI must be https unless the issuer runs on this host', () => {
    const base = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    assert.throws(() => loadConfig({ ...base, JWT_JWKS_URI: 'http://idp.example.com/jwks' }), /JWT_JWKS_URI/);
    assert.equal(loadConfig({ ...base, JWT_JWKS_URI: 'https://idp.example.com/jwks' }).jwt.jwksUri, 'https://idp.example.com/jwks');
    assert.equal(loadConfig({ ...base, JWT_JWKS_URI: 'http://127.0.0.1:9/jwks' }).jwt.jwksUri, 'http://127.0.0.1:9/jwks');
  });

  test('issuer and audience are required with an external key', async () => {
    const env = await externalIssuerEnv(keys);
    assert.throws(() => loadConfig({ ...env, JWT_AUDIENCE: '' }), /JWT_AUDIENCE/);
    assert.throws(() => loadConfig({ ...env, JWT_ISSUER: '' }), /JWT_ISSUER/);
  });
});

describe('verifier totality', () => {
  const isRefusal = (err: unknown): boolean => err instanceof UnauthorizedError && err.status === 401;

  test('arbitrary strings are refused with a 401, never another error', async () => {
    const v = await verifierFor({});
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 300 }), async (s) => {
      await assert.rejects(v.verify(s), isRefusal);
    }), { numRuns: 300 });
  });

  test('arbitrary JSON headers and payloads are refused with a 401, never another error', async () => {
    const v = await verifierFor({});
    const seg = fc.oneof(fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j) ?? 'null').toString('base64url')), fc.base64String().map((s) => s.replace(/=+$/, '')));
    const header = fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'none', 'HS256', 'PS256'), fc.jsonValue()), kid: fc.option(fc.jsonValue()), typ: fc.option(fc.jsonValue()), crit: fc.option(fc.jsonValue()) }, { requiredKeys: ['alg'] })
      .map((h) => Buffer.from(JSON.stringify(h)).toString('base64url'));
    await fc.assert(fc.asyncProperty(fc.oneof(header, seg), seg, seg, async (h, p, s) => {
      await assert.rejects(v.verify(`${h}.${p}.${s}`), isRefusal);
    }), { numRuns: 500 });
  });

  test('validly signed tokens with arbitrary claim values are accepted or refused with a 401', async () => {
    const v = await verifierFor({});
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    await fc.assert(fc.asyncProperty(value, value, value, value, value, async (exp, aud, iss, tenant, roles) => {
      const payload = { ...claims(), exp, aud, iss, tenant, roles };
      try {
        const principal = await v.verify(signJwt(keys.privateKey, payload));
        assert.equal(principal.tenant, tenant);
      } catch (err) {
        assert.ok(isRefusal(err), String(err));
      }
    }), { numRuns: 200 });
    assert.ok(await v.verify(signJwt(keys.privateKey, claims())));
    await assert.rejects(v.verify(signJwt(keys.privateKey, without(claims(), 'exp'))), isRefusal);
  });
});
