import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request, type HttpResponse } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';

/** Audit rows of one action, oldest first (denied events may be written just after the answer). */
async function auditRows(vault: TestVault, action: string, atLeast = 1): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 50; i++) {
    const rows = await vault.deps.db('audit_events').where({ action }).orderBy('seq') as Array<Record<string, unknown>>;
    if (rows.length >= atLeast) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return vault.deps.db('audit_events').where({ action }).orderBy('seq') as Promise<Array<Record<string, unknown>>>;
}

async function refusals(vault: TestVault, kind: string): Promise<number> {
  const metric = await vault.deps.metrics.anomalyRefusals.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

function assertTooMany(res: HttpResponse, code: string): void {
  assert.equal(res.status, 429, res.body.toString());
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
  assert.equal(res.json().code, code);
}

const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });

describe('per-IP and per-principal rate limits', () => {
  let vault: TestVault;
  before(async () => {
    vault = await startVault({ env: { TRUST_PROXY: 'loopback', RATE_LIMIT_PER_MINUTE: '5', RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE: '3' } });
  });
  after(async () => { await vault.close(); });

  test('an address over its rate gets 429 problem+json with Retry-After; others and /healthz are unaffected', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await request(vault, { path: '/openapi.yaml', headers: from('203.0.113.10') })).status, 200);
    const before = await refusals(vault, 'rate_limit_ip');
    const refused = await request(vault, { path: '/openapi.yaml', headers: from('203.0.113.10') });
    assertTooMany(refused, 'rate_limited');
    assert.ok(Number(refused.headers['retry-after']) <= 60, 'at most until the minute is over');
    assert.equal(await refusals(vault, 'rate_limit_ip'), before + 1);
    assert.equal((await request(vault, { path: '/openapi.yaml', headers: from('203.0.113.11') })).status, 200);
    assert.equal((await request(vault, { path: '/healthz', headers: from('203.0.113.10') })).status, 200);
  });

  test('a principal over its rate gets 429 whichever address it calls from', async () => {
    const agent = await vault.token('agent', { sub: 'agent-rate' });
    for (let i = 0; i < 3; i++) {
      const ok = await request(vault, { path: '/v1/recordings', token: agent, headers: from(`198.51.100.${i + 1}`) });
      assert.equal(ok.status, 200, ok.body.toString());
    }
    assertTooMany(await request(vault, { path: '/v1/recordings', token: agent, headers: from('198.51.100.99') }), 'rate_limited');
    const other = await vault.token('agent', { sub: 'agent-other' });
    assert.equal((await request(vault, { path: '/v1/recordings', token: other, headers: from('198.51.100.100') })).status, 200);
  });
});

describe('authentication lockout', () => {
  let vault: TestVault;
  before(async () => {
    vault = await startVault({ env: { TRUST_PROXY: 'loopback', AUTH_LOCKOUT_FAILURES: '3', AUTH_LOCKOUT_SECONDS: '120' } });
  });
  after(async () => { await vault.close(); });

  test('after N bad tokens an address is refused 429 locked_out even with a valid token, and it is audited', async () => {
    const ip = '192.0.2.50';
    for (let i = 0; i < 3; i++) {
      const res = await request(vault, { path: '/v1/recordings', token: `eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.${i}`, headers: from(ip) });
      assert.equal(res.status, 401);
    }
    const valid = await vault.token('agent');
    const locked = await request(vault, { path: '/v1/recordings', token: valid, headers: from(ip) });
    assertTooMany(locked, 'locked_out');
    assert.ok(Number(locked.headers['retry-after']) > 100 && Number(locked.headers['retry-after']) <= 120);
    assert.ok(await refusals(vault, 'locked_out') >= 1);
    assert.equal((await request(vault, { path: '/v1/recordings', token: valid, headers: from('192.0.2.51') })).status, 200);
    const rows = await auditRows(vault, 'auth.denied', 4);
    const lockedOut = rows.filter((r) => (r.details as { reason?: string }).reason === 'locked_out');
    assert.equal(lockedOut.length, 1, 'the lockout itself is one audit event');
    assert.equal(lockedOut[0]?.ip, ip);
  });

  test('forged media links count as failed authentications', async () => {
    const ip = '192.0.2.60';
    for (let i = 0; i < 3; i++) {
      const res = await request(vault, { path: `/media/forged-token-${i}.AAAA.BBBB`, headers: from(ip) });
      assert.equal(res.status, 403, res.body.toString());
    }
    assertTooMany(await request(vault, { path: '/media/forged-token-4.AAAA.BBBB', headers: from(ip) }), 'locked_out');
    assertTooMany(await request(vault, { path: '/v1/recordings', token: await vault.token('agent'), headers: from(ip) }), 'locked_out');
  });
});

describe('pbx IP allowlist', () => {
  let vault: TestVault;
  let pbx: string;
  let wav: Buffer;
  before(async () => {
    vault = await startVault({ env: { TRUST_PROXY: 'loopback', PBX_ALLOWED_CIDRS: '203.0.113.0/24, 2001:db8:100::/48' } });
    pbx = await vault.token('pbx', { sub: 'pbx-branch' });
    wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
  });
  after(async () => { await vault.close(); });

  test('uploads from allowed IPv4 and IPv6 blocks are accepted', async () => {
    const v4 = await request(vault, { method: 'PUT', path: '/v1/recordings/allow-v4.wav', body: wav, token: pbx, headers: from('203.0.113.77') });
    assert.equal(v4.status, 201, v4.body.toString());
    const v6 = await request(vault, { method: 'PUT', path: '/v1/recordings/allow-v6.wav', body: wav, token: pbx, headers: from('2001:db8:100:5::9') });
    assert.equal(v6.status, 201, v6.body.toString());
  });

  test('a pbx calling from outside gets 403 ip_not_allowed, audited as auth.denied, and nothing is stored', async () => {
    for (const ip of ['198.51.100.7', '2001:db8:200::1']) {
      const res = await request(vault, { method: 'PUT', path: '/v1/recordings/outside.wav', body: wav, token: pbx, headers: from(ip) });
      assert.equal(res.status, 403, res.body.toString());
      assert.equal(res.json().code, 'ip_not_allowed');
      const rows = await auditRows(vault, 'auth.denied');
      const row = rows.find((r) => r.ip === ip);
      assert.ok(row, `auth.denied for ${ip}`);
      assert.equal(row.actor_sub, 'pbx-branch');
      assert.equal((row.details as { reason?: string }).reason, 'ip_not_allowed');
    }
    assert.equal(await vault.deps.recordings.findByCallId('acme', 'outside'), null);
    assert.ok(await refusals(vault, 'ip_not_allowed') >= 2);
  });

  test('other roles are not subject to the pbx allowlist', async () => {
    const res = await request(vault, { path: '/v1/recordings', token: await vault.token('supervisor'), headers: from('198.51.100.7') });
    assert.equal(res.status, 200);
  });
});

describe('exfiltration guard', () => {
  let vault: TestVault;
  let recordingId: string;
  let supervisor: string;
  const issue = (token: string): Promise<HttpResponse> => request(vault, {
    method: 'POST', path: `/v1/recordings/${recordingId}/links`, token,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'quality review' }),
  });
  before(async () => {
    vault = await startVault({ env: { LINK_RATE_PER_HOUR: '2' } });
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const up = await request(vault, { method: 'PUT', path: '/v1/recordings/exfil.wav', body: wav, token: await vault.token('pbx') });
    assert.equal(up.status, 201, up.body.toString());
    recordingId = up.json<{ id: string }>().id;
    supervisor = await vault.token('supervisor', { sub: 'sup-bulk' });
  });
  after(async () => { await vault.close(); });

  test('link issuance above the hourly budget is refused 429, with one anomaly event and counted refusals', async () => {
    const links: Array<{ linkId: string; url: string }> = [];
    for (let i = 0; i < 2; i++) {
      const res = await issue(supervisor);
      assert.equal(res.status, 201, res.body.toString());
      links.push(res.json<{ linkId: string; url: string }>());
    }
    const before = await refusals(vault, 'download_rate');
    assertTooMany(await issue(supervisor), 'download_rate_exceeded');
    assertTooMany(await issue(supervisor), 'download_rate_exceeded');
    assert.equal(await refusals(vault, 'download_rate'), before + 2);
    const anomalies = (await auditRows(vault, 'anomaly.download_rate')).filter((r) => r.actor_sub === 'sup-bulk');
    assert.equal(anomalies.length, 1, 'one event per window, not per refusal');
    assert.equal(anomalies[0]?.tenant, 'acme');
    assert.equal((anomalies[0]?.details as { activity?: string }).activity, 'link_issue');
    assert.equal((await issue(await vault.token('supervisor', { sub: 'sup-other' }))).status, 201, 'other supervisors keep their budget');

    // Redemptions count against the issuer: one playback of a link issued in the previous hour
    // has already been served, so of this hour's two links only the first may start playing.
    await vault.deps.guards.exfiltration?.checkRedeem('acme', 'sup-bulk', 'link-from-last-hour');
    const [first, second] = links.map((l) => new URL(l.url).pathname);
    assert.ok(first && second);
    assert.equal((await request(vault, { path: first })).status, 200);
    const seek = await request(vault, { path: first, headers: { range: 'bytes=100-199' } });
    assert.equal(seek.status, 206, 'seeking within a playback is not another playback');
    const refused = await request(vault, { path: second });
    assertTooMany(refused, 'download_rate_exceeded');
    const redeemAnomaly = (await auditRows(vault, 'anomaly.download_rate', 2)).find((r) => (r.details as { activity?: string }).activity === 'link_redeem');
    assert.ok(redeemAnomaly);
    assert.equal(redeemAnomaly.actor_sub, 'sup-bulk');
    assert.equal(redeemAnomaly.link_id, links[1]?.linkId);
  });
});
