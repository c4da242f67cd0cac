import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DependencyError } from '../../src/errors.js';
import { LinkRedemption, type Admission, type Admitted, type LinkClient, type Redemption } from '../../src/links/redeem.js';
import { SUPERSEDED_REVOKER, type Link } from '../../src/links/store.js';
import { LinkSigner, type LinkClaims } from '../../src/links/token.js';
import { createFakeAudit, createFakeLinkStore, createFakeRecordings, fakeRecording, type FakeClock } from './fakes.js';

/**
 * Redemption decisions on in-memory doubles: the fake store's clock stands for the database
 * clock, which is the only clock redemption may consult.
 */
const READ = { range: 'bytes=0-99', start: 0, end: 99, head: false } as const;
const clientA: LinkClient = { ip: '10.0.0.1', userAgent: 'player-A', requestId: 'req-a' };
const clientB: LinkClient = { ip: '10.0.0.2', userAgent: 'player-B', requestId: 'req-b' };

function setup() {
  const clock: FakeClock = { now: Date.parse('2026-03-01T12:00:00Z') };
  const links = createFakeLinkStore(clock);
  const recording = fakeRecording('acme');
  const audit = createFakeAudit();
  const signer = new LinkSigner(randomBytes(32));
  const failures: string[] = [];
  const redemption = new LinkRedemption({
    links, signer, recordings: createFakeRecordings(recording), audit, guards: { onAuthFailure: async (ip) => { failures.push(ip); } },
  });
  const sign = (link: Link, over: Partial<LinkClaims> = {}): string => signer.sign({
    linkId: link.id, recordingId: link.recordingId, tenant: link.tenant, issuer: signer.issuerTag(link.issuedBy), expiresAt: link.expiresAt.getTime(), ...over,
  });
  const issue = (opts: { singleUse?: boolean; ttlSeconds?: number; tokenExpiresAt?: number } = {}): { link: Link; token: string } => {
    const link = links.add({ tenant: 'acme', recordingId: recording.id, ...opts });
    return { link, token: sign(link, opts.tokenExpiresAt === undefined ? {} : { expiresAt: opts.tokenExpiresAt }) };
  };
  const admit = (token: string, client = clientA, refusedFetch: object | null = null): Promise<Admission> => redemption.admit({ token, client, refusedFetch });
  const play = async (token: string, client = clientA): Promise<Redemption> => redemption.commit(admitted(await admit(token, client)), READ);
  return { clock, links, audit, failures, redemption, sign, issue, admit, play };
}

function admitted(a: Admission): Admitted {
  assert.ok(a.allowed, a.allowed ? '' : `refused: ${a.reason}`);
  return a;
}

function refusal(a: Admission | Redemption): { reason: string; code: string; status: number } {
  assert.ok(!a.allowed, 'expected a refusal');
  return { reason: a.reason, code: a.error.code, status: a.error.status };
}

describe('link redemption', () => {
  test('a link past its expiry on the store clock is refused link_expired, audited, and not counted as forgery', async () => {
    const h = setup();
    const { token, link } = h.issue({ ttlSeconds: 60 });
    assert.ok((await h.play(token)).allowed);
    h.clock.now += 60_000;
    assert.deepEqual(refusal(await h.admit(token)), { reason: 'expired', code: 'link_expired', status: 403 });
    assert.equal(h.audit.denied.at(-1)?.details?.reason, 'link_expired');
    assert.equal(h.audit.denied.at(-1)?.linkId, link.id);
    assert.deepEqual(h.failures, []);
  });

  test('the application clock is not consulted: an expiry claim in the token that has passed does not refuse a live link', async () => {
    const h = setup();
    const { token } = h.issue({ tokenExpiresAt: Date.now() - 3_600_000 });
    assert.ok((await h.play(token)).allowed);
  });

  test('expiry between admission and use is decided at the use', async () => {
    const h = setup();
    const { token, link } = h.issue({ singleUse: true, ttlSeconds: 60 });
    const a = admitted(await h.admit(token));
    h.clock.now += 61_000;
    assert.equal(refusal(await h.redemption.commit(a, READ)).code, 'link_expired');
    assert.equal(h.links.get(link.id)?.firstUsedAt, null, 'the link was not spent');
    assert.equal(h.audit.events.length, 0, 'no media.read');
  });

  test('a revoked link is refused link_revoked, at admission and at the use', async () => {
    const h = setup();
    const { token, link } = h.issue();
    const a = admitted(await h.admit(token));
    h.links.revoke(link.id);
    assert.equal(refusal(await h.redemption.commit(a, READ)).code, 'link_revoked');
    assert.deepEqual(refusal(await h.admit(token)), { reason: 'revoked', code: 'link_revoked', status: 403 });
  });

  test('a link its recording\'s redaction revoked between admission and use is gone (410), as it is at admission', async () => {
    const h = setup();
    const { token, link } = h.issue();
    const a = admitted(await h.admit(token));
    h.links.revoke(link.id, SUPERSEDED_REVOKER);
    assert.deepEqual(refusal(await h.redemption.commit(a, READ)), { reason: 'superseded', code: 'link_superseded', status: 410 });
    assert.equal(h.audit.denied.at(-1)?.details?.reason, 'link_superseded');
    assert.deepEqual(refusal(await h.admit(token)), { reason: 'superseded', code: 'link_superseded', status: 410 });
  });

  test('an altered token is refused link_invalid, counts towards lockout, and reveals nothing', async () => {
    const h = setup();
    const { token } = h.issue();
    const [payload = '', mac = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const reencoded = Buffer.from(JSON.stringify({ ...claims, t: 'globex' })).toString('base64url');
    for (const altered of [`${reencoded}.${mac}`, `${payload}.${mac.slice(0, -2)}AA`, payload, 'x'.repeat(2000)]) {
      assert.equal(refusal(await h.admit(altered)).code, 'link_invalid', altered);
    }
    assert.equal(h.failures.length, 4);
    assert.ok(h.audit.denied.every((e) => e.linkId === null && e.tenant === null && !JSON.stringify(e).includes(mac)));
    assert.ok((await h.play(token)).allowed, 'the genuine token still works');
  });

  test('a validly signed token that does not match its link row is refused as unknown, as is a link whose recording is gone', async () => {
    const h = setup();
    const { link } = h.issue();
    assert.equal(refusal(await h.admit(h.sign(link, { issuer: 'someone-else' }))).reason, 'unknown_link');
    assert.equal(refusal(await h.admit(h.sign(link, { recordingId: '00000000-0000-4000-8000-000000000000' }))).reason, 'unknown_link');
    assert.equal(refusal(await h.admit(h.sign(link, { tenant: 'globex' }))).reason, 'unknown_link');
    assert.equal(h.failures.length, 3);
    const orphan = h.links.add({ tenant: 'acme', recordingId: '00000000-0000-4000-8000-000000000000' });
    assert.deepEqual(refusal(await h.admit(h.sign(orphan))), { reason: 'recording_unavailable', code: 'link_invalid', status: 403 });
  });
  test('a single-use link is bound to its first client, who may come back for more ranges', async () => {
    const h = setup();
    const { token, link } = h.issue({ singleUse: true, ttlSeconds: 3600 });
    assert.ok((await h.play(token, clientA)).allowed);
    h.clock.now += 50 * 60_000;
    assert.ok((await h.play(token, clientA)).allowed);
    assert.match(String(h.links.get(link.id)?.firstUsedBy), /^[0-9a-f]{32}$/, 'a keyed fingerprint, not an address');
    assert.equal(h.audit.events.filter((e) => e.action === 'media.read').length, 2);
  });

  test('another client is refused link_used, at admission, and at the use when it lost the race', async () => {
    const h = setup();
    const { token } = h.issue({ singleUse: true });
    const first = admitted(await h.admit(token, clientA));
    const second = admitted(await h.admit(token, clientB));
    assert.ok((await h.redemption.commit(first, READ)).allowed);
    assert.deepEqual(refusal(await h.redemption.commit(second, READ)), { reason: 'used', code: 'link_used', status: 403 });
    assert.equal(refusal(await h.admit(token, clientB)).code, 'link_used');
    assert.equal(h.audit.events.length, 1, 'one media.read for the one winner');
    assert.deepEqual(h.failures, []);
  });

  test('a refused origin is refused link_origin_refused before the link is spent', async () => {
    const h = setup();
    const { token, link } = h.issue({ singleUse: true });
    const seen = { origin: 'https://evil.example', site: 'cross-site', mode: 'no-cors', dest: 'audio' };
    assert.equal(refusal(await h.admit(token, clientB, seen)).code, 'link_origin_refused');
    assert.deepEqual(h.audit.denied.at(-1)?.details?.fetch, seen);
    assert.equal(h.links.get(link.id)?.firstUsedAt, null);
    assert.equal(h.audit.events.length, 0);
    assert.ok((await h.play(token, clientA)).allowed, 'the link is still there for a client that may use it');
  });

  test('when media.read cannot be written the use fails with 503 and the link stays unspent', async () => {
    const h = setup();
    const { token, link } = h.issue({ singleUse: true });
    const a = admitted(await h.admit(token));
    h.audit.failWith = new DependencyError('audit', 'down');
    await assert.rejects(h.redemption.commit(a, READ), (err: unknown) => err instanceof DependencyError && err.code === 'audit_unavailable');
    assert.equal(h.links.get(link.id)?.firstUsedAt, null);
  });
});
