import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { supersedeLinks } from '../../src/links/store.js';
import { LinkSigner } from '../../src/links/token.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, auditText, call, issueLink, mediaPath, play, tinyWav, upload, type IssuedLink, type Receipt } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('issuing and revoking links', () => {
  let vault: TestVault;
  let sup: string;
  let recording: Receipt;
  const logLines: string[] = [];

  before(async () => {
    vault = await startVault({ logLines, env: { LINK_MAX_TTL_SECONDS: '600' } });
    sup = await vault.token('supervisor', { sub: 'sup-7' });
    recording = await upload(vault, await vault.token('pbx'), 'links-1', tinyWav(1));
  });
  after(async () => { await vault.close(); });

  test('201 with an absolute https URL, the expiry, and link.issued committed with actor, tenant, ip, requestId', async () => {
    const before = Date.now();
    const res = await call(vault, {
      method: 'POST', path: `/v1/recordings/${recording.id}/links`, token: sup, headers: { ...JSON_TYPE, 'user-agent': 'console/2' },
      body: JSON.stringify({ reason: 'QA review of ticket 4411', ttlSeconds: 120 }),
    });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.headers['cache-control'], 'no-store');
    const link = res.json<IssuedLink>();
    const url = new URL(link.url);
    assert.equal(url.protocol, 'https:');
    assert.equal(url.host, `localhost:${vault.server.port}`);
    assert.match(url.pathname, /^\/media\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assertIssuedWithin(link, 120, before, Date.now());
    const [event] = await auditRows(vault, { action: 'link.issued', link_id: link.linkId });
    assert.ok(event);
    assert.equal(event.actor_sub, 'sup-7');
    assert.equal(event.actor_role, 'supervisor');
    assert.equal(event.tenant, 'acme');
    assert.equal(event.ip, '127.0.0.1');
    assert.equal(event.user_agent, 'console/2');
    assert.equal(event.request_id, res.headers['x-request-id']);
    assert.equal(event.outcome, 'allowed');
    assert.equal(event.recording_id, recording.id);
    assert.equal(event.details.reason, 'QA review of ticket 4411');
    assert.equal(event.details.ttlSeconds, 120);
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.equal(row.issued_by, 'sup-7');
    assert.equal(row.single_use, false);
  });

  test('the default TTL is LINK_DEFAULT_TTL_SECONDS', async () => {
    const t0 = Date.now();
    const link = await issueLink(vault, sup, recording.id, { reason: 'default ttl' });
    assertIssuedWithin(link, 300, t0, Date.now());
  });

  test('PUBLIC_URL, when set, is the base of link URLs', async () => {
    const other = await startVault({ env: { PUBLIC_URL: 'https://vault.example.com/' } });
    try {
      const r = await upload(other, await other.token('pbx'), 'public-url', tinyWav(2));
      const link = await issueLink(other, await other.token('supervisor'), r.id);
      assert.match(link.url, /^https:\/\/vault\.example\.com\/media\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    } finally {
      await other.close();
    }
  });

  test('the body is validated: reason required (3..500), ttlSeconds 1..max, singleUse boolean, nothing else', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['{}', JSON_TYPE['content-type']],
      ['{"reason":"ok"}', JSON_TYPE['content-type']],
      [JSON.stringify({ reason: 'x'.repeat(501) }), JSON_TYPE['content-type']],
      ['{"reason":"   ab   "}', JSON_TYPE['content-type']],
      ['{"reason":"review","ttlSeconds":0}', JSON_TYPE['content-type']],
      ['{"reason":"review","ttlSeconds":601}', JSON_TYPE['content-type']],
      ['{"reason":"review","ttlSeconds":1.5}', JSON_TYPE['content-type']],
      ['{"reason":"review","ttlSeconds":"60"}', JSON_TYPE['content-type']],
      ['{"reason":"review","singleUse":"yes"}', JSON_TYPE['content-type']],
      ['{"reason":"review","ttl":60}', JSON_TYPE['content-type']],
      ['["review"]', JSON_TYPE['content-type']],
      ['{"reason":', JSON_TYPE['content-type']],
      ['reason=review', 'application/x-www-form-urlencoded'],
    ];
    const before = await vault.deps.db('links').count<{ count: number }[]>('* as count');
    for (const [body, type] of cases) {
      const res = await call(vault, { method: 'POST', path: `/v1/recordings/${recording.id}/links`, token: sup, headers: type ? { 'content-type': type } : {}, body });
      assert.equal(res.status, 400, body);
    }
    const afterCount = await vault.deps.db('links').count<{ count: number }[]>('* as count');
    assert.deepEqual(afterCount, before, 'no link was created');
    const max = await issueLink(vault, sup, recording.id, { reason: 'r'.repeat(500), ttlSeconds: 600, singleUse: true });
    assert.ok(max.linkId);
  });

  test('revocation: 204, idempotent, audited, and the link answers 403 at once', async () => {
    const link = await issueLink(vault, sup, recording.id);
    assert.equal((await play(vault, link)).status, 200);
    const res = await call(vault, { method: 'DELETE', path: `/v1/links/${link.linkId}`, token: sup });
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
    const again = await call(vault, { method: 'DELETE', path: `/v1/links/${link.linkId}`, token: sup });
    assert.equal(again.status, 204);
    const events = await auditRows(vault, { action: 'link.revoked', link_id: link.linkId });
    assert.equal(events.length, 2);
    assert.equal(events[0]?.actor_sub, 'sup-7');
    assert.equal(events[0]?.details.alreadyRevoked, false);
    assert.equal(events[1]?.details.alreadyRevoked, true);
    const denied = await play(vault, link);
    assert.equal(denied.status, 403);
    assert.equal(denied.json().code, 'link_revoked');
    assert.equal(denied.headers['content-type'], 'application/problem+json; charset=utf-8');
    const [refusal] = await auditRows(vault, { action: 'auth.denied', request_id: String(denied.headers['x-request-id']) });
    assert.equal(refusal?.link_id, link.linkId);
    assert.equal(refusal?.details.reason, 'link_revoked');
    assert.equal((await call(vault, { method: 'DELETE', path: '/v1/links/not-a-uuid', token: sup })).status, 404);
  });

  test('a link its recording\'s redaction revokes between admission and use is refused 410 link_superseded at the use', async () => {
    const link = await issueLink(vault, sup, recording.id);
    const client = { ip: '203.0.113.9', userAgent: 'player', requestId: 'race-1' };
    const admitted = await vault.deps.redemption.admit({ token: mediaPath(link).split('/').pop() ?? '', client, refusedFetch: null });
    assert.ok(admitted.allowed, 'admitted before the redaction');
    await vault.deps.db.transaction((trx) => supersedeLinks(trx, 'acme', recording.id));
    const used = await vault.deps.redemption.commit(admitted, { range: null, start: 0, end: 15, head: false });
    assert.ok(!used.allowed);
    assert.deepEqual([used.error.status, used.error.code], [410, 'link_superseded']);
    assert.equal((await play(vault, link)).status, 410, 'and at admission from then on');
  });

  test('an expired link answers 403 link_expired', async () => {
    const link = await issueLink(vault, sup, recording.id, { reason: 'short-lived', ttlSeconds: 60 });
    assert.equal((await play(vault, link)).status, 200);
    await expireNow(vault, link);
    const res = await play(vault, link);
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'link_expired');
    const [refusal] = await auditRows(vault, { action: 'auth.denied', request_id: String(res.headers['x-request-id']) });
    assert.equal(refusal?.details.reason, 'link_expired');
    assert.equal(refusal?.link_id, link.linkId);
  });

  test('the database clock alone decides expiry: the expiry signed into the token is not compared with the server clock', async () => {
    const link = await issueLink(vault, sup, recording.id, { reason: 'database clock', ttlSeconds: 60 });
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    const signer = new LinkSigner(vault.deps.linkSigningKey);
    const token = signer.sign({ linkId: link.linkId, recordingId: recording.id, tenant: 'acme', issuer: signer.issuerTag(row.issued_by), expiresAt: Date.now() - 3_600_000 });
    assert.equal((await play(vault, `/media/${token}`)).status, 200, 'the row is live on the database clock');
    const [issued] = await auditRows(vault, { action: 'link.issued', link_id: link.linkId });
    assert.equal(Date.parse(String(issued?.details.expiresAt)), new Date(row.expires_at).getTime(), 'the expiry the database computed is the one audited');
    await expireNow(vault, link);
    assert.equal((await play(vault, link)).json().code, 'link_expired');
  });

  test('an altered token answers 403 and nothing about it is trusted', async () => {
    const link = await issueLink(vault, sup, recording.id);
    const path = mediaPath(link);
    const token = path.slice('/media/'.length);
    const [payload = '', mac = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const reencode = (c: Record<string, unknown>): string => Buffer.from(JSON.stringify(c)).toString('base64url');
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const tampered = [
      `${reencode({ ...claims, e: Date.now() + 86_400_000 })}.${mac}`,
      `${reencode({ ...claims, t: 'globex' })}.${mac}`,
      `${reencode({ ...claims, r: '00000000-0000-4000-8000-000000000000' })}.${mac}`,
      `${payload}.${flip(mac, 5)}`,
      `${flip(payload, 10)}.${mac}`,
      `${payload}.${mac.slice(0, -2)}`,
      `${payload}`,
      `${payload}.${mac}.${mac}`,
      'x'.repeat(2000),
    ];
    for (const t of tampered) {
      const res = await play(vault, `/media/${t}`);
      assert.equal(res.status, 403, t);
      assert.equal(res.json().code, 'link_invalid', t);
    }
    assert.equal((await play(vault, link)).status, 200, 'the genuine token still works');
  });

  test('tokens never reach logs or the audit log', async () => {
    const link = await issueLink(vault, sup, recording.id);
    const token = mediaPath(link).slice('/media/'.length);
    await play(vault, link, { range: 'bytes=0-9' });
    await play(vault, `/media/${token.slice(0, -3)}abc`);
    assert.ok(logLines.length > 0, 'the vault logged requests');
    const logs = logLines.join('\n');
    for (const piece of [token, token.split('.')[0] ?? '', token.split('.')[1] ?? '']) {
      assert.ok(!logs.includes(piece), 'token in logs');
      assert.ok(!(await auditText(vault)).includes(piece), 'token in audit log');
    }
    assert.ok(logs.includes('/media/[redacted]'));
  });
});

describe('single-use links', () => {
  let vault: TestVault;
  let sup: string;
  let recording: Receipt;

  before(async () => {
    vault = await startVault();
    sup = await vault.token('supervisor');
    recording = await upload(vault, await vault.token('pbx'), 'single-1', tinyWav(1, 4096));
  });
  after(async () => { await vault.close(); });

  test('the first client may send the Range requests of one playback; another client gets 403 link_used', async () => {
    const link = await issueLink(vault, sup, recording.id, { reason: 'one listen', singleUse: true });
    const player = { 'user-agent': 'player-A' };
    assert.equal((await play(vault, link, { ...player, range: 'bytes=0-1023' })).status, 206);
    assert.equal((await play(vault, link, { ...player, range: 'bytes=1024-' })).status, 206);
    const thief = await play(vault, link, { 'user-agent': 'player-B', range: 'bytes=0-1023' });
    assert.equal(thief.status, 403);
    assert.equal(thief.json().code, 'link_used');
    const [refusal] = await auditRows(vault, { action: 'auth.denied', request_id: String(thief.headers['x-request-id']) });
    assert.equal(refusal?.details.reason, 'link_used');
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.ok(row.first_used_at);
    assert.match(String(row.first_used_by), /^[0-9a-f]{32}$/, 'a keyed fingerprint, not an address');
  });

  test('the first client is served after a long pause until the link expires; nobody else is', async () => {
    const link = await issueLink(vault, sup, recording.id, { reason: 'one listen', singleUse: true, ttlSeconds: 3600 });
    const player = { 'user-agent': 'player-A' };
    assert.equal((await play(vault, link, { ...player, range: 'bytes=0-' })).status, 206);
    // Paused for 50 minutes: the first use moves back on the database clock.
    await vault.deps.db('links').where({ id: link.linkId }).update({ first_used_at: vault.deps.db.raw("first_used_at - interval '50 minutes'") });
    const seek = await play(vault, link, { ...player, range: 'bytes=2048-' });
    assert.equal(seek.status, 206);
    assert.equal(seek.headers['content-range'], 'bytes 2048-4139/4140');
    assert.equal((await play(vault, link, { 'user-agent': 'player-B', range: 'bytes=2048-' })).json().code, 'link_used');
    await expireNow(vault, link);
    const late = await play(vault, link, { ...player, range: 'bytes=0-' });
    assert.equal(late.status, 403);
    assert.equal(late.json().code, 'link_expired');
    assert.equal((await auditRows(vault, { action: 'media.read', link_id: link.linkId })).length, 2);
  });

  test('two simultaneous redemptions from different clients: exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const link = await issueLink(vault, sup, recording.id, { reason: 'race', singleUse: true });
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => play(vault, link, { 'user-agent': `racer-${round}-${i}`, range: 'bytes=0-99' })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [206, 403, 403, 403], `round ${round}`);
      const reads = await auditRows(vault, { action: 'media.read', link_id: link.linkId });
      assert.equal(reads.length, 1, 'one media.read for the one winner');
    }
  });

  test('a multi-use link serves any number of clients until it expires', async () => {
    const link = await issueLink(vault, sup, recording.id, { reason: 'team review' });
    for (const ua of ['a', 'b', 'c']) assert.equal((await play(vault, link, { 'user-agent': ua })).status, 200);
  });
});

/**
 * The link expires `ttlSeconds` after a moment between the request and its answer: bounds that
 * hold however slow the machine, with a second's slack for the database clock's rounding.
 */
function assertIssuedWithin(link: IssuedLink, ttlSeconds: number, sentAt: number, answeredAt: number): void {
  const issuedAt = Date.parse(link.expiresAt) - ttlSeconds * 1000;
  assert.ok(issuedAt >= sentAt - 1_000 && issuedAt <= answeredAt + 1_000, `expiresAt ${link.expiresAt} for a request sent at ${new Date(sentAt).toISOString()}`);
}

/** Ends a link's lifetime on the database clock, which is the one `claim` reads. */
async function expireNow(vault: TestVault, link: IssuedLink): Promise<void> {
  await vault.deps.db('links').where({ id: link.linkId }).update({ expires_at: vault.deps.db.raw("clock_timestamp() - interval '1 second'") });
}
