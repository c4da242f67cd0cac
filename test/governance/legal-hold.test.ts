import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, row, upload } from '../retention/support.js';

interface Problem { code: string; status: number }

/** Rows straight into the table: what is measured is the hold, not the uploads. */
async function seed(vault: TestVault, count: number, tag: string): Promise<void> {
  const rows = Array.from({ length: count }, (_v, i) => {
    const id = randomUUID();
    return {
      id, tenant: 'acme', call_id: `${tag}-${i}`, status: 'active', object_key: `recordings/acme/${id}`, sha256: 'b'.repeat(64),
      size_bytes: 10, content_type: 'audio/wav', wrapped_key: randomBytes(61), key_ref: 'local:v1', policy: 'default',
      retain_until: new Date(Date.now() + 86_400_000), tags: [tag],
    };
  });
  for (let i = 0; i < rows.length; i += 1_000) await vault.deps.db('recordings').insert(rows.slice(i, i + 1_000));
}

describe('legal hold', () => {
  let vault: TestVault;
  let compliance: string;
  before(async () => {
    vault = await startVault();
    compliance = await vault.token('compliance', { sub: 'officer-1' });
  });
  after(async () => { await vault.close(); });

  test('PUT sets a hold with a required reason and optional case; DELETE clears it; both audited', async () => {
    const r = await upload(vault, 'hold-1');
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, compliance, {})).status, 400);
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, compliance, { reason: '  ' })).status, 400);
    const set = await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, compliance, { reason: 'litigation', caseId: 'CASE-9' });
    assert.equal(set.status, 200, set.body.toString());
    const state = set.json<{ recordingId: string; legalHold: boolean; reason: string; caseId: string; setBy: string; setAt: string }>();
    assert.deepEqual({ ...state, setAt: typeof state.setAt }, { recordingId: r.id, legalHold: true, reason: 'litigation', caseId: 'CASE-9', setBy: 'officer-1', setAt: 'string' });
    assert.equal((await row(vault, r.id)).legal_hold, true);

    const erase = await json(vault, 'DELETE', `/v1/recordings/${r.id}`, compliance, { reason: 'customer request' });
    assert.equal(erase.status, 409, 'a held recording cannot be erased');
    assert.equal(erase.json<Problem>().code, 'legal_hold');

    const cleared = await json(vault, 'DELETE', `/v1/recordings/${r.id}/legal-hold`, compliance, { reason: 'case closed' });
    assert.equal(cleared.status, 204);
    assert.equal((await row(vault, r.id)).legal_hold, false);
    assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}/legal-hold`, compliance)).status, 204, 'clearing twice is harmless');

    const set1 = await auditEvents(vault, { action: 'legal_hold.set', recordingId: r.id });
    assert.deepEqual(set1.map((e) => [e.actor_sub, e.actor_role, e.details.reason, e.details.caseId]), [['officer-1', 'compliance', 'litigation', 'CASE-9']]);
    const clear = await auditEvents(vault, { action: 'legal_hold.cleared', recordingId: r.id });
    assert.equal(clear.length, 1, 'a no-op clear writes no event');
    assert.equal(clear[0]?.details.reason, 'case closed');
  });

  test('only compliance may hold; another tenant\'s recording answers 404', async () => {
    const r = await upload(vault, 'hold-2');
    for (const role of ['supervisor', 'admin', 'pbx', 'agent'] as const) {
      assert.equal((await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, await vault.token(role), { reason: 'x' })).status, 403, role);
    }
    const foreign = await vault.token('compliance', { tenant: 'globex' });
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, foreign, { reason: 'x' })).status, 404);
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${randomUUID()}/legal-hold`, compliance, { reason: 'x' })).status, 404);
    assert.equal((await json(vault, 'PUT', '/v1/recordings/not-a-uuid/legal-hold', compliance, { reason: 'x' })).status, 404);
    assert.equal((await row(vault, r.id)).legal_hold, false);
  });

  test('POST /v1/legal-holds holds 10,000 recordings matched by a filter in one request, fast', async () => {
    await seed(vault, 10_000, 'case-x');
    await seed(vault, 2_000, 'unrelated');
    const started = Date.now();
    const res = await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'preservation order', caseId: 'CASE-X', filter: { tags: 'case-x' } });
    const ms = Date.now() - started;
    process.stdout.write(`# bulk legal hold of 10000 recordings took ${ms} ms\n`);
    assert.equal(res.status, 200, res.body.toString());
    const body = res.json<{ held: number; alreadyHeld: number; recordingIds: string[] }>();
    assert.equal(body.held, 10_000);
    assert.equal(body.recordingIds.length, 10_000);
    assert.ok(ms < 15_000, `took ${ms} ms`);
    const counts = await vault.deps.db('recordings').select('legal_hold').count<{ legal_hold: boolean; count: number }[]>('* as count')
      .whereRaw(`tags && ARRAY['case-x', 'unrelated']::text[]`).groupBy('legal_hold');
    assert.deepEqual(Object.fromEntries(counts.map((c) => [String(c.legal_hold), Number(c.count)])), { true: 10_000, false: 2_000 });
    const events = (await auditEvents(vault, { action: 'legal_hold.set' })).filter((e) => e.details.bulk === true);
    assert.equal(events.length, 1, 'one summary event');
    assert.equal(events[0]?.details.count, 10_000);
    assert.deepEqual(new Set(events[0]?.details.recordingIds as string[]), new Set(body.recordingIds));

    const again = await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'again', caseId: 'CASE-Y', filter: { tags: 'case-x' } });
    assert.deepEqual({ ...again.json<object>(), recordingIds: [] }, { held: 0, alreadyHeld: 10_000, recordingIds: [], objectLockFailed: [] });
    const sample = await vault.deps.db('recordings').where({ id: body.recordingIds[0] }).first<{ legal_hold_case_id: string }>();
    assert.equal(sample?.legal_hold_case_id, 'CASE-X', 'an existing hold keeps its case');

    const released = await json(vault, 'POST', '/v1/legal-holds/release', compliance, { caseId: 'CASE-X', reason: 'settled' });
    assert.equal(released.status, 200);
    assert.equal(released.json<{ released: number }>().released, 10_000);
    const still = await vault.deps.db('recordings').where({ legal_hold: true }).whereRaw(`tags @> ARRAY['case-x']::text[]`).count<{ count: number }[]>('* as count').first();
    assert.equal(Number(still?.count), 0);
  });

  test('the bulk filter matches a phone number as caller or callee, within the tenant only', async () => {
    const caller = await upload(vault, 'ph-from', { query: { from: '+1 415 555 0100', to: '+1 212 555 0199' } });
    const callee = await upload(vault, 'ph-to', { query: { from: '+1 646 555 0123', to: '(415) 555-0100' } });
    const neither = await upload(vault, 'ph-none', { query: { from: '+1 646 555 0123', to: '+1 212 555 0199' } });
    const foreign = await upload(vault, 'ph-foreign', { query: { from: '+14155550100' }, tenant: 'globex' });
    const res = await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'complaint', filter: { phone: '+14155550100' } });
    assert.deepEqual(new Set(res.json<{ recordingIds: string[] }>().recordingIds), new Set([caller.id, callee.id]));
    assert.equal((await row(vault, neither.id)).legal_hold, false);
    assert.equal((await row(vault, foreign.id)).legal_hold, false);
    assert.equal((await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'x', filter: { color: 'red' } })).status, 400);
    assert.equal((await json(vault, 'POST', '/v1/legal-holds', compliance, { filter: { tags: 'a' } })).status, 400);
    assert.equal((await json(vault, 'POST', '/v1/legal-holds', await vault.token('supervisor'), { reason: 'x', filter: {} })).status, 403);
  });

  test('the bulk filter takes the names of the search: startedAfter/startedBefore, from/to numbers, tags', async () => {
    const hold = async (filter: Record<string, unknown>): Promise<Set<string>> => {
      const caseId = `M-${randomUUID()}`;
      const res = await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'matter', caseId, filter });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal((await json(vault, 'POST', '/v1/legal-holds/release', compliance, { caseId })).status, 200);
      return new Set(res.json<{ recordingIds: string[] }>().recordingIds);
    };
    const early = await upload(vault, 'nm-early', { query: { startedAt: '2025-01-05T10:00:00Z', from: '+1 415 555 0177', to: '2100', tags: 'matter-7,sales' } });
    const late = await upload(vault, 'nm-late', { query: { startedAt: '2025-03-05T10:00:00Z', from: '2100', to: '(415) 555-0177', tags: 'matter-7' } });
    assert.deepEqual(await hold({ startedAfter: '2025-01-01T00:00:00Z', startedBefore: '2025-02-01T00:00:00Z' }), new Set([early.id]));
    assert.deepEqual(await hold({ from: '14155550177' }), new Set([early.id]));
    assert.deepEqual(await hold({ to: '+14155550177' }), new Set([late.id]));
    assert.deepEqual(await hold({ tags: 'sales,matter-7' }), new Set([early.id]));
    assert.deepEqual(await hold({ tags: ['matter-7'] }), new Set([early.id, late.id]));
    for (const [filter, detail] of [[{ tag: 'matter-7' }, /filter\.tags/], [{ from: '2025-01-01T00:00:00Z' }, /filter\.startedAfter/], [{ to: '2025-02-01T00:00:00Z' }, /filter\.startedBefore/]] as const) {
      const res = await json(vault, 'POST', '/v1/legal-holds', compliance, { reason: 'x', filter });
      assert.equal(res.status, 400, JSON.stringify(filter));
      assert.match(String(res.json<{ detail: string }>().detail), detail);
    }
  });
});
