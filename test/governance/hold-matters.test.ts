import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, upload } from '../retention/support.js';

interface Matter { caseId: string | null; count: number; firstSetAt: string | null; lastSetAt: string | null }
interface Held { recordingId: string; callId: string; reason: string | null; caseId: string | null; setBy: string | null }
interface HeldPage { items: Held[]; nextAfter: string | null }

describe('legal holds by matter', () => {
  let vault: TestVault;
  let compliance: string;
  const ids: Record<string, string> = {};
  before(async () => {
    vault = await startVault();
    compliance = await vault.token('compliance', { sub: 'officer-2' });
    for (const callId of ['m-a1', 'm-a2', 'm-a3', 'm-b1', 'm-free', 'm-loose']) ids[callId] = (await upload(vault, callId, { query: { tags: callId.slice(0, 3) } })).id;
    await upload(vault, 'm-foreign', { tenant: 'globex', query: { tags: 'm-a' } });
    assert.equal((await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'order A', caseId: 'CASE-A', filter: { tags: 'm-a' } })).status, 200);
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${ids['m-b1']}/legal-hold`, compliance, { reason: 'order B', caseId: 'CASE-B' })).status, 200);
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${ids['m-loose']}/legal-hold`, compliance, { reason: 'no case yet' })).status, 200);
  });
  after(async () => { await vault.close(); });

  test('GET /v1/legal-holds groups the tenant\'s holds by case id, every matter, newest first', async () => {
    const res = await json(vault, 'GET', '/v1/legal-holds', compliance);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['cache-control'], 'no-store');
    const { matters } = res.json<{ matters: Matter[] }>();
    assert.deepEqual(matters.map((m) => [m.caseId, m.count]), [[null, 1], ['CASE-B', 1], ['CASE-A', 3]]);
    assert.ok(matters.every((m) => m.firstSetAt && m.lastSetAt && m.firstSetAt <= m.lastSetAt));
    const foreign = await json(vault, 'GET', '/v1/legal-holds', await vault.token('compliance', { tenant: 'globex' }));
    assert.deepEqual(foreign.json<{ matters: Matter[] }>().matters, []);
  });

  test('GET /v1/legal-holds/recordings pages through one matter and audits each page', async () => {
    const first = await json(vault, 'GET', '/v1/legal-holds/recordings?caseId=CASE-A&limit=2', compliance);
    assert.equal(first.status, 200, first.body.toString());
    const page1 = first.json<HeldPage>();
    assert.equal(page1.items.length, 2);
    assert.ok(page1.nextAfter);
    const page2 = (await json(vault, 'GET', `/v1/legal-holds/recordings?caseId=CASE-A&limit=2&after=${page1.nextAfter}`, compliance)).json<HeldPage>();
    assert.equal(page2.nextAfter, null);
    const all = [...page1.items, ...page2.items];
    assert.deepEqual(new Set(all.map((h) => h.callId)), new Set(['m-a1', 'm-a2', 'm-a3']));
    assert.ok(all.every((h) => h.reason === 'order A' && h.caseId === 'CASE-A' && h.setBy === 'officer-2'));
    const everything = (await json(vault, 'GET', '/v1/legal-holds/recordings', compliance)).json<HeldPage>();
    assert.deepEqual(new Set(everything.items.map((h) => h.callId)), new Set(['m-a1', 'm-a2', 'm-a3', 'm-b1', 'm-loose']));
    const loose = (await json(vault, 'GET', '/v1/legal-holds/recordings?withoutCase=true', compliance)).json<HeldPage>();
    assert.deepEqual(loose.items.map((h) => [h.callId, h.caseId]), [['m-loose', null]]);
    const listed = (await auditEvents(vault, { action: 'recording.listed' })).filter((e) => e.details.source === 'legal_holds');
    assert.deepEqual(listed.map((e) => [e.actor_sub, e.details.caseId, e.details.count, e.details.page]),
      [['officer-2', 'CASE-A', 2, 'first'], ['officer-2', 'CASE-A', 1, 'next'], ['officer-2', undefined, 5, 'first'], ['officer-2', null, 1, 'first']]);
  });

  test('only compliance; bad paging answers 400', async () => {
    for (const role of ['supervisor', 'admin', 'agent', 'pbx'] as const) {
      assert.equal((await json(vault, 'GET', '/v1/legal-holds', await vault.token(role))).status, 403, role);
      assert.equal((await json(vault, 'GET', '/v1/legal-holds/recordings', await vault.token(role))).status, 403, role);
    }
    for (const q of ['withoutCase=true&caseId=A', 'withoutCase=false', 'after=x', 'limit=0', 'limit=1001', 'caseId=', 'color=red']) {
      assert.equal((await json(vault, 'GET', `/v1/legal-holds/recordings?${q}`, compliance)).status, 400, q);
    }
  });
});
