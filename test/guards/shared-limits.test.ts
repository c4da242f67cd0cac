import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request, type HttpResponse } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';

/**
 * Two replicas of one deployment: the second vault runs on the first one's database and data
 * directory (same keys, issuer and object store), as two containers behind a balancer would.
 * Every budget is spent half on each; the next request is refused on either.
 */
const LIMITS = {
  TRUST_PROXY: 'loopback', RATE_LIMIT_PER_MINUTE: '6', RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE: '6', AUTH_LOCKOUT_FAILURES: '4',
  AUTH_LOCKOUT_SECONDS: '120', LINK_RATE_PER_HOUR: '2',
};

function assertTooMany(res: HttpResponse, code: string): void {
  assert.equal(res.status, 429, res.body.toString());
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
  assert.equal(res.json().code, code);
}

describe('limits hold across replicas sharing one database', () => {
  let a: TestVault;
  let b: TestVault;
  let addresses = 0;
  /** A client address of its own, so that one test's requests do not spend another's per-IP budget. */
  const fresh = (): Record<string, string> => ({ 'x-forwarded-for': `198.18.${addresses >> 8}.${(addresses++) & 255}` });
  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });
  before(async () => {
    a = await startVault({ env: LIMITS });
    b = await startVault({ env: { ...LIMITS, DATABASE_URL: a.database.url, DATABASE_ADMIN_URL: a.database.adminUrl, CALLVAULT_DATA_DIR: a.dataDir } });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('per-IP: three requests on each replica spend the budget of six; the seventh is refused on both', async () => {
    const ip = from('203.0.113.10');
    for (const vault of [a, b, a, b, a, b]) assert.equal((await request(vault, { path: '/openapi.yaml', headers: ip })).status, 200);
    assertTooMany(await request(a, { path: '/openapi.yaml', headers: ip }), 'rate_limited');
    assertTooMany(await request(b, { path: '/openapi.yaml', headers: ip }), 'rate_limited');
    assert.equal((await request(b, { path: '/openapi.yaml', headers: from('203.0.113.11') })).status, 200, 'other addresses keep theirs');
  });

  test('per-principal: the budget is the principal\'s across replicas, whatever address it calls from', async () => {
    const agent = await a.token('agent', { sub: 'agent-replicated' });
    for (const vault of [a, b, a, b, a, b]) {
      const ok = await request(vault, { path: '/v1/recordings', token: agent, headers: fresh() });
      assert.equal(ok.status, 200, ok.body.toString());
    }
    assertTooMany(await request(b, { path: '/v1/recordings', token: agent, headers: fresh() }), 'rate_limited');
    assertTooMany(await request(a, { path: '/v1/recordings', token: agent, headers: fresh() }), 'rate_limited');
  });

  test('lockout: failures on both replicas add up, and the lockout applies on both; it is audited once', async () => {
    const ip = '192.0.2.50';
    for (const [i, vault] of [a, b, a, b].entries()) {
      const res = await request(vault, { path: '/v1/recordings', token: `eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.${i}`, headers: from(ip) });
      assert.equal(res.status, 401);
    }
    const valid = await a.token('agent', { sub: 'agent-locked-out' });
    assertTooMany(await request(a, { path: '/v1/recordings', token: valid, headers: from(ip) }), 'locked_out');
    assertTooMany(await request(b, { path: '/v1/recordings', token: valid, headers: from(ip) }), 'locked_out');
    const lockouts = (await a.deps.db('audit_events').where({ action: 'auth.denied' }) as Array<{ details: { reason?: string } }>)
      .filter((r) => r.details.reason === 'locked_out');
    assert.equal(lockouts.length, 1, 'one replica counted the locking failure');
  });

  test('exfiltration: a supervisor\'s hourly links are counted across replicas, with one anomaly event', async () => {
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const up = await request(a, { method: 'PUT', path: '/v1/recordings/limits-across-replicas.wav', body: wav, token: await a.token('pbx'), headers: fresh() });
    assert.equal(up.status, 201, up.body.toString());
    const recordingId = up.json<{ id: string }>().id;
    const supervisor = await a.token('supervisor', { sub: 'sup-replicated' });
    const issue = (vault: TestVault): Promise<HttpResponse> => request(vault, {
      method: 'POST', path: `/v1/recordings/${recordingId}/links`, token: supervisor,
      headers: { 'content-type': 'application/json', ...fresh() }, body: JSON.stringify({ reason: 'quality review' }),
    });
    assert.equal((await issue(a)).status, 201);
    assert.equal((await issue(b)).status, 201);
    assertTooMany(await issue(a), 'download_rate_exceeded');
    assertTooMany(await issue(b), 'download_rate_exceeded');
    const anomalies = await a.deps.db('audit_events').where({ action: 'anomaly.download_rate', actor_sub: 'sup-replicated' });
    assert.equal(anomalies.length, 1, 'one event per window for the whole deployment');
  });
});
