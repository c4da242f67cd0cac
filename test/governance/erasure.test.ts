import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, row, upload } from '../retention/support.js';

for (const storage of ['fs', 's3'] as const) {
  describe(`erasure with ${storage} storage`, () => {
    let vault: TestVault;
    let compliance: string;
    before(async () => {
      vault = await startVault({ storage });
      compliance = await vault.token('compliance', { sub: 'dpo-1' });
    });
    after(async () => { await vault.close(); });

    test('DELETE /v1/recordings/{id} deletes the object, destroys the key and leaves a tombstone', async () => {
      const r = await upload(vault, `erase-${storage}`, { query: { from: '+14155550100', agentId: 'agent-1', tags: 'vip' } });
      const objectKey = (await row(vault, r.id)).object_key;
      assert.ok(objectKey);
      const link = await json(vault, 'POST', `/v1/recordings/${r.id}/links`, await vault.token('supervisor'), { reason: 'review' });
      const mediaPath = new URL(link.json<{ url: string }>().url).pathname;
      for (const role of ['supervisor', 'admin', 'pbx'] as const) {
        assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}`, await vault.token(role))).status, 403, role);
      }
      assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}`, await vault.token('compliance', { tenant: 'globex' }))).status, 404);

      const res = await json(vault, 'DELETE', `/v1/recordings/${r.id}`, compliance, { reason: 'DSAR 2041' });
      assert.equal(res.status, 204, res.body.toString());
      assert.equal(await vault.deps.store.head(objectKey), null);
      const tomb = await row(vault, r.id);
      assert.equal(tomb.status, 'deleted');
      assert.equal(tomb.deletion_reason, 'erasure');
      assert.equal(tomb.deletion_note, 'DSAR 2041');
      assert.equal(tomb.sha256, r.sha256);
      for (const gone of ['wrapped_key', 'key_ref', 'object_key', 'from_number', 'from_hash', 'agent_id'] as const) assert.equal(tomb[gone], null, gone);
      assert.equal((await request(vault, { path: mediaPath })).status, 403);
      const events = await auditEvents(vault, { action: 'recording.deleted', recordingId: r.id });
      assert.equal(events.length, 1);
      assert.deepEqual([events[0]?.actor_sub, events[0]?.details.reason, events[0]?.details.note], ['dpo-1', 'erasure', 'DSAR 2041']);
      assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}`, compliance)).status, 404, 'a tombstone is gone for clients');
      assert.equal((await request(vault, { path: `/v1/recordings/${r.id}`, token: await vault.token('supervisor') })).status, 404);
    });

    test('POST /v1/erasures erases exactly the recordings of one phone number, skipping and reporting held ones', async () => {
      const t = (s: string): string => `${s}-${storage}`;
      const asCaller = await upload(vault, t('subj-from'), { query: { from: '+1 415 555 0100', to: '+1 212 555 0199' } });
      const asCallee = await upload(vault, t('subj-to'), { query: { from: '+1 646 555 0123', to: '(415) 555-0100' } });
      const other = await upload(vault, t('subj-other'), { query: { from: '+1 646 555 0123', to: '+1 212 555 0199' } });
      const noNumbers = await upload(vault, t('subj-none'));
      const held = await upload(vault, t('subj-held'), { query: { from: '+14155550100', to: '+1 212 555 0199' } });
      const foreign = await upload(vault, t('subj-foreign'), { query: { from: '+14155550100' }, tenant: 'globex' });
      await json(vault, 'PUT', `/v1/recordings/${held.id}/legal-hold`, compliance, { reason: 'litigation', caseId: 'L-1' });

      assert.equal((await json(vault, 'POST', '/v1/erasures', compliance, { phone: '+14155550100' })).status, 400, 'reason required');
      assert.equal((await json(vault, 'POST', '/v1/erasures', await vault.token('supervisor'), { phone: '+14155550100', reason: 'x' })).status, 403);
      const res = await json(vault, 'POST', '/v1/erasures', compliance, { phone: '+1 (415) 555-0100', reason: 'GDPR Art. 17 request #42' });
      assert.equal(res.status, 200, res.body.toString());
      const body = res.json<{ erased: number; recordingIds: string[]; skippedLegalHold: Array<{ id: string; callId: string; caseId: string }>; pending: string[] }>();
      assert.equal(body.erased, 2);
      assert.deepEqual(new Set(body.recordingIds), new Set([asCaller.id, asCallee.id]));
      assert.deepEqual(body.skippedLegalHold, [{ id: held.id, callId: held.callId, caseId: 'L-1' }]);
      assert.deepEqual(body.pending, []);
      for (const id of [asCaller.id, asCallee.id]) assert.equal((await row(vault, id)).status, 'deleted');
      for (const id of [other.id, noNumbers.id, held.id, foreign.id]) assert.equal((await row(vault, id)).status, 'active');

      const summary = (await auditEvents(vault, { action: 'recording.deleted' })).filter((e) => e.details.summary === true && e.recording_id === null);
      assert.equal(summary.length, 1);
      assert.equal(summary[0]?.details.count, 2);
      assert.deepEqual(summary[0]?.details.skippedLegalHold, [held.id]);
      assert.equal(/4155550100|555-0100/.test(JSON.stringify(summary[0]?.details)), false, 'the phone number is not written to the log');
      const again = await json(vault, 'POST', '/v1/erasures', compliance, { phone: '+14155550100', reason: 'repeat' });
      assert.equal(again.json<{ erased: number }>().erased, 0, 'tombstones keep no phone hash');
    });
  });
}
