import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import {
  assertDenied, b64url, claims, ecKeyPair, externalIssuerEnv, forgeHmac, now, rsaKeyPair, signJwt, signingInput, unsigned, upload,
  without, AUDIENCE, ISSUER, type KeyPair,
} from './support.js';

/**
 * RFC 8725 rules against a running vault that trusts an external RS256 issuer
 * (JWT_PUBLIC_KEY_FILE). Every refusal must be a 401/403 problem+json with one auth.denied event.
 */
describe('bearer token rules (external RSA issuer)', () => {
  let vault: TestVault;
  let issuer: KeyPair;
  const good = (over: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string => signJwt(issuer.privateKey, claims(over), header);

  before(async () => {
    issuer = rsaKeyPair();
    vault = await startVault({ env: await externalIssuerEnv(issuer) });
    assert.equal(vault.config.jwt.clockSkewSeconds, 30);
    assert.deepEqual(vault.config.jwt.algorithms, ['RS256', 'ES256']);
  });
  after(async () => { await vault.close(); });

  test('a well-formed RS256 token from the issuer is accepted', async () => {
    const res = await upload(vault, good());
    assert.equal(res.status, 201, res.body.toString());
  });

  test('alg none is refused, in any spelling, signed or not', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await assertDenied(vault, await upload(vault, unsigned(claims(), alg)), 401, 'unsupported_algorithm');
    }
    const withSig = `${signingInput({ alg: 'none' }, claims())}.${b64url('x')}`;
    await assertDenied(vault, await upload(vault, withSig), 401, 'unsupported_algorithm');
  });

  test('HS256 signed with the RSA public key as the HMAC secret is refused (key confusion)', async () => {
    const pem = issuer.publicPem;
    for (const secret of [pem, pem.trim(), Buffer.from(pem), issuer.publicKey.export({ type: 'spki', format: 'der' })]) {
      await assertDenied(vault, await upload(vault, forgeHmac(secret, claims())), 401, 'unsupported_algorithm');
    }
    for (const alg of ['HS384', 'HS512'] as const) {
      await assertDenied(vault, await upload(vault, forgeHmac(pem, claims(), alg)), 401, 'unsupported_algorithm');
    }
  });

  test('an algorithm outside the allowlist is refused even when properly signed', async () => {
    const input = signingInput({ alg: 'PS256', typ: 'JWT' }, claims());
    await assertDenied(vault, await upload(vault, `${input}.${b64url('sig')}`), 401, 'unsupported_algorithm');
  });

  test('ES256 (allowed) with the RSA key configured fails verification, not open', async () => {
    const other = ecKeyPair();
    await assertDenied(vault, await upload(vault, signJwt(other.privateKey, claims())), 401, 'invalid_token');
  });

  test('a token signed by another RSA key is refused', async () => {
    const other = rsaKeyPair();
    await assertDenied(vault, await upload(vault, signJwt(other.privateKey, claims())), 401, 'invalid_signature');
  });

  test('a tampered payload is refused', async () => {
    const [h, , s] = good().split('.');
    const forged = `${h}.${b64url(claims({ tenant: 'globex' }))}.${s}`;
    await assertDenied(vault, await upload(vault, forged), 401, 'invalid_signature');
  });

  test('expiry: beyond the clock skew refused, within it accepted', async () => {
    const t = now();
    await assertDenied(vault, await upload(vault, good({ exp: t - 31 - 5, iat: t - 600 })), 401, 'token_expired');
    await assertDenied(vault, await upload(vault, good({ exp: t - 3600, iat: t - 7200 })), 401, 'token_expired');
    assert.equal((await upload(vault, good({ exp: t - 10, iat: t - 600 }))).status, 201);
  });

  test('exp is required', async () => {
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims(), 'exp'))), 401, 'invalid_claims');
    await assertDenied(vault, await upload(vault, good({ exp: String(now() + 300) })), 401, 'invalid_token');
  });

  test('nbf is honoured with the same skew', async () => {
    const t = now();
    await assertDenied(vault, await upload(vault, good({ nbf: t + 120 })), 401, 'token_not_yet_valid');
    assert.equal((await upload(vault, good({ nbf: t + 10 }))).status, 201);
  });

  test('aud must name this service', async () => {
    await assertDenied(vault, await upload(vault, good({ aud: 'some-other-api' })), 401, 'invalid_audience');
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims(), 'aud'))), 401, 'invalid_audience');
    assert.equal((await upload(vault, good({ aud: ['account', AUDIENCE] }))).status, 201);
  });

  test('iss must be the configured issuer', async () => {
    await assertDenied(vault, await upload(vault, good({ iss: `${ISSUER}/evil` })), 401, 'invalid_issuer');
    await assertDenied(vault, await upload(vault, good({ iss: 'https://attacker.example' })), 401, 'invalid_issuer');
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims(), 'iss'))), 401, 'invalid_issuer');
  });

  test('tenant is required and must be a valid tenant id', async () => {
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims(), 'tenant'))), 401, 'invalid_claims');
    for (const tenant of ['', ' acme', 'ac me', '../acme', 42, ['acme'], { id: 'acme' }, 'a'.repeat(64), null]) {
      await assertDenied(vault, await upload(vault, good({ tenant })), 401, 'invalid_claims');
    }
  });

  test('sub is required', async () => {
    await assertDenied(vault, await upload(vault, signJwt(issuer.privateKey, without(claims(), 'sub'))), 401, 'invalid_claims');
    await assertDenied(vault, await upload(vault, good({ sub: 'pbx\n1' })), 401, 'invalid_claims');
  });

  test('a role the route does not allow is 403, audited with the principal', async () => {
    const row = await assertDenied(vault, await upload(vault, good({ roles: ['agent', 'supervisor'], sub: 'sup-7' })), 403, 'forbidden');
    assert.equal(row.actor_sub, 'sup-7');
    assert.equal(row.tenant, 'acme');
    await assertDenied(vault, await upload(vault, good({ roles: [] })), 403, 'forbidden');
    await assertDenied(vault, await upload(vault, good({ roles: ['PBX', 'root', 'admin'] })), 403, 'forbidden');
  });

  test('roles may be a space- or comma-separated string', async () => {
    assert.equal((await upload(vault, good({ roles: 'agent pbx' }))).status, 201);
    assert.equal((await upload(vault, good({ roles: 'agent,pbx' }))).status, 201);
  });

  test('headers that would choose the key (jku, x5u, jwk, x5c) are refused even on a valid signature', async () => {
    const jwk = issuer.publicKey.export({ format: 'jwk' });
    const abusive: Array<Record<string, unknown>> = [
      { jku: 'https://attacker.example/jwks.json' }, { x5u: 'https://attacker.example/cert.pem' }, { jwk }, { x5c: ['MIIB'] },
    ];
    for (const header of abusive) {
      await assertDenied(vault, await upload(vault, good({}, header)), 401, 'unsupported_token_header');
    }
  });

  test('a crit header is refused: no extensions are implemented', async () => {
    await assertDenied(vault, await upload(vault, good({}, { crit: ['exp'] })), 401, 'unsupported_token_header');
    await assertDenied(vault, await upload(vault, good({}, { crit: ['b64'], b64: false })), 401, 'unsupported_token_header');
    await assertDenied(vault, await upload(vault, good({}, { crit: [] })), 401, 'unsupported_token_header');
  });

  test('typ, when present, must be JWT or at+jwt', async () => {
    assert.equal((await upload(vault, good({}, { typ: 'at+jwt' }))).status, 201);
    assert.equal((await upload(vault, good({}, { typ: 'application/at+JWT' }))).status, 201);
    assert.equal((await upload(vault, good({}, { typ: undefined }))).status, 201);
    for (const typ of ['JOSE', 'secevent+jwt', 'dpop+jwt', 7]) {
      await assertDenied(vault, await upload(vault, good({}, { typ })), 401, 'unsupported_token_header');
    }
  });

  test('tokens over 8 KiB are refused before verification', async () => {
    const big = good({ padding: 'x'.repeat(9 * 1024) });
    assert.ok(big.length > 8192 && big.length < 15_000);
    await assertDenied(vault, await upload(vault, big), 401, 'token_too_large');
  });

  test('garbage bearer strings are 401, never 500', async () => {
    const t = good();
    const [h, p] = t.split('.');
    const garbage = [
      'abc', 'a.b.c', '...', 'a..', '.b.', `${h}.${p}`, `${h}.${p}.`, `${h}.${p}.s.x.y`, `${t}=`,
      `${b64url('not json')}.${p}.c2ln`, `${b64url('[1,2]')}.${p}.c2ln`, `${b64url('null')}.${p}.c2ln`,
      `${h}.${b64url('not json')}.c2ln`, `${h}.${b64url('"str"')}.c2ln`, `${h}.${b64url('123')}.c2ln`,
      `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url('{"sub":')}.c2ln`, `${b64url({ alg: ['RS256'] })}.${p}.c2ln`,
      `${b64url({ alg: 'RS256', kid: { x: 1 } })}.${p}.c2ln`, `${h}.${p}.${'A'.repeat(4000)}`, `${h}+.${p}.c2ln`,
      `${b64url('{"alg":"RS256","__proto__":{"crit":["x"]}}')}.${p}.c2ln`, `${h}.${b64url('{"__proto__":{"exp":1e12}}')}.c2ln`,
      `${b64url('{"alg":"RS256"}'.padEnd(2000, ' '))}.${p}.c2ln`, `${h}.${p}.${'_'.repeat(342)}`,
    ];
    for (const token of garbage) {
      const res = await upload(vault, token);
      assert.equal(res.status, 401, `${token.slice(0, 60)} → ${res.status} ${res.body.toString()}`);
      const code = res.json<{ code: string }>().code;
      await assertDenied(vault, res, 401, code);
      assert.match(String(res.headers['www-authenticate']), /^Bearer /);
    }
    for (const header of ['Bearer', 'Bearer ', 'Token abc', 'Bearer \u00e9\u00e9.\u00e9.\u00e9', `bearer  ${t}`]) {
      const res = await request(vault, { method: 'PUT', path: '/v1/recordings/garbage', headers: { authorization: header }, body: 'x' });
      assert.equal(res.status, 401, header);
    }
    await assertDenied(vault, await upload(vault, null), 401, 'missing_token');
  });
});
