/** Every JWT attack of the access contract, and roles a route does not allow. */
import { createHmac } from 'node:crypto';
import { b64url, claims, ecKeyPair, forgeHmac, now, rsaKeyPair, signJwt, signingInput, unsigned, without, type Claims } from '../../auth/support.js';
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { jsonRequest, NOT_AUDIO, upload } from './build.js';

export function jwtCases(h: HostileVault): HostileCase[] {
  const sup = (over: Claims = {}): Claims => claims({ roles: ['supervisor'], sub: 'supervisor-1', ...over });
  const signed = (payload: Claims, header: Record<string, unknown> = {}): string => signJwt(h.issuer.privateKey, payload, header);
  const stranger = rsaKeyPair();
  const pem = h.issuer.publicPem;
  const list = (name: string, token: string | null, code?: string, expect: HostileCase['expect'] = 401): HostileCase => ({
    name: `jwt: ${name}`,
    request: token === null ? { target: '/v1/recordings' } : { target: '/v1/recordings', headers: [['Authorization', token]] },
    expect, ...(code ? { code } : {}),
  });
  const bearer = (t: string): string => `Bearer ${t}`;
  const t = now();
  return [
    list('no Authorization header', null, 'missing_token'),
    list('empty Bearer', 'Bearer ', 'missing_token'),
    list('Bearer of garbage', bearer('garbage'), 'missing_token'),
    list('three empty segments', bearer('..')),
    list('four segments', bearer(`${signed(sup())}.extra`)),
    list('unknown scheme', `Token ${signed(sup())}`),
    list('Basic with no colon', `Basic ${Buffer.from('nocolon').toString('base64')}`),
    list('Basic with an empty password', `Basic ${Buffer.from('pbx:').toString('base64')}`),
    list('Basic with a forged password', `Basic ${Buffer.from(`pbx:${unsigned(sup())}`).toString('base64')}`, 'unsupported_algorithm'),
    list('alg none', bearer(unsigned(sup())), 'unsupported_algorithm'),
    list('alg None', bearer(unsigned(sup(), 'None')), 'unsupported_algorithm'),
    list('alg NONE with a signature', bearer(`${signingInput({ alg: 'NONE' }, sup())}.${b64url('sig')}`), 'unsupported_algorithm'),
    list('no alg at all', bearer(`${signingInput({ typ: 'JWT' }, sup())}.${b64url('sig')}`)),
    list('HS256 signed with the RSA public key PEM', bearer(forgeHmac(pem, sup())), 'unsupported_algorithm'),
    list('HS256 signed with the trimmed PEM', bearer(forgeHmac(pem.trim(), sup())), 'unsupported_algorithm'),
    list('HS256 signed with the DER public key', bearer(forgeHmac(h.issuer.publicKey.export({ type: 'spki', format: 'der' }), sup())), 'unsupported_algorithm'),
    list('HS512 signed with the RSA public key PEM', bearer(forgeHmac(pem, sup(), 'HS512')), 'unsupported_algorithm'),
    list('HS256 with a kid pointing at /dev/null', bearer((() => {
      const input = signingInput({ alg: 'HS256', kid: '../../../../../dev/null' }, sup());
      return `${input}.${createHmac('sha256', '').update(input).digest('base64url')}`;
    })()), 'unsupported_algorithm'),
    list('RS256 with an empty signature', bearer(`${signingInput({ alg: 'RS256', typ: 'JWT' }, sup())}.`)),
    list('signed by another RSA key', bearer(signJwt(stranger.privateKey, sup()))),
    list('signed by another key, with a jku to it', bearer(signJwt(stranger.privateKey, sup(), { jku: 'https://evil.example/jwks.json', kid: 'evil' }))),
    list('signed by another key, with the key embedded as jwk', bearer(signJwt(stranger.privateKey, sup(), { jwk: stranger.publicKey.export({ format: 'jwk' }) }))),
    list('ES256 by an EC key the vault does not know', bearer(signJwt(ecKeyPair().privateKey, sup()))),
    list('payload altered after signing', bearer((() => {
      const [head = '', , sig = ''] = signed(sup()).split('.');
      return `${head}.${b64url(sup({ roles: ['admin', 'compliance', 'supervisor'] }))}.${sig}`;
    })())),
    list('expired an hour ago', bearer(signed(sup({ iat: t - 7_200, exp: t - 3_600 }))), 'token_expired'),
    list('expired just beyond the clock skew', bearer(signed(sup({ iat: t - 600, exp: t - 120 }))), 'token_expired'),
    list('exp missing', bearer(signed(without(sup(), 'exp')))),
    list('exp as a string', bearer(signed(sup({ exp: String(t + 300) })))),
    list('not valid before an hour from now', bearer(signed(sup({ nbf: t + 3_600 })))),
    list('wrong audience', bearer(signed(sup({ aud: 'some-other-api' })))),
    list('audience list without ours', bearer(signed(sup({ aud: ['a', 'b', 'c'] })))),
    list('audience missing', bearer(signed(without(sup(), 'aud')))),
    list('wrong issuer', bearer(signed(sup({ iss: 'https://evil.example/' })))),
    list('issuer with a trailing slash', bearer(signed(sup({ iss: `${String(sup().iss)}/` })))),
    list('issuer missing', bearer(signed(without(sup(), 'iss')))),
    list('tenant missing', bearer(signed(without(sup(), 'tenant'))), 'invalid_claims'),
    list('tenant null', bearer(signed(sup({ tenant: null }))), 'invalid_claims'),
    list('tenant as a number', bearer(signed(sup({ tenant: 42 }))), 'invalid_claims'),
    list('tenant as a list', bearer(signed(sup({ tenant: ['acme', 'globex'] }))), 'invalid_claims'),
    list('tenant with traversal', bearer(signed(sup({ tenant: '../globex' }))), 'invalid_claims'),
    list('tenant with a NUL character', bearer(signed(sup({ tenant: 'acme\u0000' }))), 'invalid_claims'),
    list('tenant of 500 characters', bearer(signed(sup({ tenant: 't'.repeat(500) }))), 'invalid_claims'),
    list('tenant with SQL', bearer(signed(sup({ tenant: "acme' OR '1'='1" }))), 'invalid_claims'),
    list('sub missing', bearer(signed(without(sup(), 'sub'))), 'invalid_claims'),
    list('sub with a NUL character', bearer(signed(sup({ sub: 'alice\u0000' }))), 'invalid_claims'),
    list('sub of 5,000 characters', bearer(signed(sup({ sub: 's'.repeat(5_000) }))), 'invalid_claims'),
    list('roles empty', bearer(signed(sup({ roles: [] }))), 'forbidden', 403),
    list('roles unknown', bearer(signed(sup({ roles: ['root', 'superuser'] }))), 'forbidden', 403),
    list('roles as an object', bearer(signed(sup({ roles: { supervisor: true } }))), 'forbidden', 403),
    list('roles as 10,000 entries', bearer(signed(sup({ roles: Array.from({ length: 10_000 }, () => 'x') }))), undefined, '4xx'),
    list('a pbx token on search', bearer(h.tokens.pbx), 'forbidden', 403),
  ];
}

export function roleCases(h: HostileVault): HostileCase[] {
  const linkBody = '{"reason":"role check"}';
  const links = (token: string): HostileCase['request'] => jsonRequest('POST', `/v1/recordings/${h.recordingId}/links`, token, linkBody);
  const role = (name: string, request: HostileCase['request'], expect: HostileCase['expect'] = 403): HostileCase =>
    ({ name: `role: ${name}`, request, expect, ...(expect === 403 ? { code: 'forbidden' } : {}) });
  return [
    role('agent uploads', upload('/v1/recordings/role-agent', h.tokens.agent, NOT_AUDIO)),
    role('supervisor uploads', upload('/v1/recordings/role-sup', h.tokens.supervisor, NOT_AUDIO)),
    role('admin uploads', upload('/v1/recordings/role-admin', h.tokens.admin, NOT_AUDIO)),
    role('pbx issues a link', links(h.tokens.pbx)),
    role('agent issues a link', links(h.tokens.agent)),
    role('compliance issues a link', links(h.tokens.compliance)),
    role('admin issues a link', links(h.tokens.admin)),
    role('agent revokes a link', { method: 'DELETE', target: `/v1/links/${h.linkId}`, token: h.tokens.agent }),
    role('pbx revokes a link', { method: 'DELETE', target: `/v1/links/${h.linkId}`, token: h.tokens.pbx }),
    role('supervisor sets a retention policy', jsonRequest('PUT', '/v1/retention-policies/gold', h.tokens.supervisor, '{"retain":"P90D"}')),
    role('compliance sets a retention policy', jsonRequest('PUT', '/v1/retention-policies/gold', h.tokens.compliance, '{"retain":"P90D"}')),
    role('pbx lists retention policies', { target: '/v1/retention-policies', token: h.tokens.pbx }),
    role('supervisor sets a legal hold', jsonRequest('PUT', `/v1/recordings/${h.recordingId}/legal-hold`, h.tokens.supervisor, '{"reason":"x"}')),
    role('admin erases a recording', { method: 'DELETE', target: `/v1/recordings/${h.recordingId}`, token: h.tokens.admin }),
    role('supervisor erases a recording', { method: 'DELETE', target: `/v1/recordings/${h.recordingId}`, token: h.tokens.supervisor }),
    role('compliance rotates keys', jsonRequest('POST', '/v1/keys/rotate', h.tokens.compliance, '{}')),
    role('supervisor changes tenant settings', jsonRequest('PUT', '/v1/tenant-settings', h.tokens.supervisor, '{"defaultPolicy":null}')),
    role('admin exports the audit log', { target: '/v1/audit-events', token: h.tokens.admin }),
    role('supervisor exports the audit log', { target: '/v1/audit-events', token: h.tokens.supervisor }),
    role('pbx searches', { target: '/v1/recordings', token: h.tokens.pbx }),
    role('another tenant reads the recording', { target: `/v1/recordings/${h.recordingId}`, token: h.token('supervisor', { tenant: 'globex' }) }, 404),
    role('another tenant issues a link', links(h.token('supervisor', { tenant: 'globex' })), 404),
    role('another tenant revokes the link', { method: 'DELETE', target: `/v1/links/${h.linkId}`, token: h.token('supervisor', { tenant: 'globex' }) }, 404),
  ];
}
