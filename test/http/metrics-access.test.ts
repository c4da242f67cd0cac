import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';
import { listenMetrics, loadMetricsToken, type MetricsListener } from '../../src/http/metrics-access.js';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';

/**
 * /metrics tells anyone who can read it the vault's routes, traffic and failure rates. It takes a
 * bearer token (METRICS_TOKEN_FILE, compared in constant time) and/or moves to its own listener
 * (METRICS_LISTEN); production mode with neither does not serve it on the public listener.
 */
const PRODUCTION: Record<string, string> = {
  CALLVAULT_MODE: 'production', CALLVAULT_DATA_DIR: '/nonexistent', TLS_CERT_FILE: '/s/tls.crt', TLS_KEY_FILE: '/s/tls.key',
  DATABASE_URL: 'postgres://callvault_app@db/callvault', LOCAL_KEY_DIR: '/s/keys', JWT_ISSUER: 'https://idp.example',
  JWT_AUDIENCE: 'callvault', JWT_JWKS_URI: 'https://idp.example/jwks', LINK_SIGNING_KEY_FILE: '/s/link.key',
  PHONE_HASH_KEY_FILE: '/s/phone.key', AUDIT_ANCHOR_KEY_FILE: '/s/anchor.pem', AUDIT_NAMESPACE: 'callvault.example.com/test',
};

describe('/metrics access', () => {
  let dir: string;
  let token: string;
  let tokenFile: string;
  let guarded: TestVault;
  let separate: TestVault;
  let listener: MetricsListener;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'callvault-metrics-'));
    token = randomBytes(32).toString('hex');
    tokenFile = path.join(dir, 'metrics.token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    [guarded, separate] = await Promise.all([
      startVault({ env: { METRICS_TOKEN_FILE: tokenFile } }),
      startVault({ env: { METRICS_LISTEN: '127.0.0.1:0' } }),
    ]);
    listener = await listenMetrics(separate.deps.metrics, null, { host: '127.0.0.1', port: 0 }, separate.deps.logger);
  });
  after(async () => {
    await listener.close();
    await Promise.all([guarded.close(), separate.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  test('with METRICS_TOKEN_FILE: no token, a wrong one or Basic is 401 problem+json; the token is 200', async () => {
    for (const authorization of [undefined, `Bearer ${token.slice(1)}`, `Bearer ${token}x`, `Basic ${Buffer.from(`u:${token}`).toString('base64')}`]) {
      const res = await request(guarded, { path: '/metrics', headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, authorization);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, 'invalid_metrics_token');
      assert.match(String(res.headers['www-authenticate']), /^Bearer /);
    }
    const ok = await request(guarded, { path: '/metrics', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.body.toString(), /^callvault_http_requests_total/m);
  });

  test('the token file must be long enough and private', async () => {
    const short = path.join(dir, 'short.token');
    await writeFile(short, 'abc\n', { mode: 0o600 });
    await assert.rejects(loadMetricsToken(short), (err: unknown) => err instanceof ConfigError && err.variable === 'METRICS_TOKEN_FILE');
    const open = path.join(dir, 'open.token');
    await writeFile(open, `${token}\n`, { mode: 0o644 });
    await assert.rejects(loadMetricsToken(open), /has mode 0644/);
  });

  test('with METRICS_LISTEN, the public listener does not serve /metrics; the separate one serves only it', async () => {
    assert.equal((await request(separate, { path: '/metrics' })).status, 404);
    const base = `http://127.0.0.1:${listener.port}`;
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^callvault_http_requests_total/m);
    assert.equal((await fetch(`${base}/v1/recordings`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 404);
  });

  test('the separate listener checks the token too when one is set', async () => {
    const digest = await loadMetricsToken(tokenFile);
    const guardedListener = await listenMetrics(separate.deps.metrics, digest, { host: '127.0.0.1', port: 0 }, separate.deps.logger);
    try {
      const base = `http://127.0.0.1:${guardedListener.port}/metrics`;
      assert.equal((await fetch(base)).status, 401);
      assert.equal((await fetch(base, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      await guardedListener.close();
    }
  });

  test('production mode fails closed: no token and no separate listener, no public /metrics', () => {
    assert.equal(loadConfig(PRODUCTION).observability.metrics.public, false);
    assert.equal(loadConfig({ ...PRODUCTION, METRICS_TOKEN_FILE: '/s/metrics.token' }).observability.metrics.public, true);
    assert.equal(loadConfig({ ...PRODUCTION, METRICS_LISTEN: '10.0.0.5:9464' }).observability.metrics.public, false);
    assert.deepEqual(loadConfig({ ...PRODUCTION, METRICS_LISTEN: '[::1]:9464' }).observability.metrics.listen, { host: '::1', port: 9464 });
    assert.throws(() => loadConfig({ ...PRODUCTION, METRICS_LISTEN: '9464' }), (err: unknown) => err instanceof ConfigError && err.variable === 'METRICS_LISTEN');
    assert.equal(loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent' }).observability.metrics.public, true, 'embedded: open, as before');
  });
});
