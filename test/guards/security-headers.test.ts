import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type HttpResponse } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';

function assertHardened(res: HttpResponse, what: string): void {
  const h = res.headers;
  assert.match(String(h['strict-transport-security']), /^max-age=31536000; includeSubDomains$/, `${what}: HSTS`);
  assert.equal(h['x-powered-by'], undefined, `${what}: X-Powered-By`);
  const csp = String(h['content-security-policy']);
  assert.match(csp, /(^|;)\s*default-src 'none'(;|$)/, `${what}: CSP default-src`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(h['x-frame-options'], 'SAMEORIGIN', `${what}: X-Frame-Options`);
  assert.equal(h['cross-origin-resource-policy'], 'same-origin', `${what}: CORP`);
}

describe('security headers over TLS', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(async () => { await vault.close(); });

  test('health, API, error and refusal responses all carry the hardening headers', async () => {
    assertHardened(await request(vault, { path: '/healthz' }), 'healthz');
    assertHardened(await request(vault, { path: '/v1/recordings', token: await vault.token('agent') }), 'list');
    const unauth = await request(vault, { path: '/v1/recordings' });
    assert.equal(unauth.status, 401);
    assertHardened(unauth, '401');
    const missing = await request(vault, { path: '/no/such/route' });
    assert.equal(missing.status, 404);
    assertHardened(missing, '404');
  });

  test('problem responses never reveal the framework', async () => {
    const res = await request(vault, { method: 'POST', path: '/v1/recordings/x/links', token: await vault.token('supervisor'), headers: { 'content-type': 'application/json' }, body: '{bad' });
    assert.equal(res.status, 400);
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.ok(!/express|node_modules|at \w+ \(/i.test(res.body.toString()), res.body.toString());
  });
});
