import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { tinyWav } from '../access/support.js';
import { multipartUpload, request, type HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { json, row, upload } from '../retention/support.js';

/**
 * A destructive attempt the vault refuses (erasing a held recording, re-uploading an erased
 * callId, overwriting a callId with other bytes) answers 409 and leaves an audit event with
 * outcome denied and the refusal's code as details.reason, under the request that was refused.
 */
interface EventRow { action: string; outcome: string; actor_sub: string; actor_role: string | null; tenant: string | null; recording_id: string | null; details: Record<string, unknown> }

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('refused destructive attempts are audited', () => {
  let vault: TestVault;
  let pbx: string;
  let compliance: string;

  before(async () => {
    vault = await startVault();
    pbx = await vault.token('pbx', { sub: 'pbx-7' });
    compliance = await vault.token('compliance', { sub: 'dpo-1' });
  });
  after(async () => { await vault.close(); });

  /** The 409 with its code, and the one event written under its request id. */
  const refusal = async (res: HttpResponse, code: string): Promise<EventRow> => {
    assert.equal(res.status, 409, res.body.toString());
    assert.equal(res.json<{ code: string }>().code, code);
    const rows = await vault.deps.db<EventRow>('audit_events').where('request_id', String(res.headers['x-request-id'])).orderBy('seq');
    assert.equal(rows.length, 1, `one event for the refused request: ${JSON.stringify(rows)}`);
    return rows[0]!;
  };

  const put = async (callId: string, body: Buffer): Promise<HttpResponse> => {
    const res = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}`, body, token: pbx, headers: { 'content-type': 'audio/wav' } });
    return assertContract('PUT', `/v1/recordings/${callId}`, res);
  };

  const post = async (callId: string, body: Buffer): Promise<HttpResponse> => {
    const form = multipartUpload(callId, body);
    const res = await request(vault, { method: 'POST', path: '/v1/recordings', body: form.body, token: pbx, headers: { 'content-type': form.type } });
    return assertContract('POST', '/v1/recordings', res);
  };

  test('erasing a held recording: 409 legal_hold, recording.deleted denied with the reason and case', async () => {
    const r = await upload(vault, 'held-erase');
    const hold = await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, compliance, { reason: 'litigation', caseId: 'CASE-12' });
    assert.equal(hold.status, 200, hold.body.toString());
    const event = await refusal(await json(vault, 'DELETE', `/v1/recordings/${r.id}`, compliance, { reason: 'subject request' }), 'legal_hold');
    assert.deepEqual(
      [event.action, event.outcome, event.actor_sub, event.actor_role, event.tenant, event.recording_id],
      ['recording.deleted', 'denied', 'dpo-1', 'compliance', 'acme', r.id],
    );
    assert.deepEqual([event.details.reason, event.details.caseId, event.details.note], ['legal_hold', 'CASE-12', 'subject request']);
    assert.equal((await row(vault, r.id)).status, 'active', 'the held recording is untouched');
  });

  test('re-uploading an erased callId (PUT and POST): 409 recording_deleted, recording.uploaded denied', async () => {
    const body = tinyWav(31);
    const r = await upload(vault, 'erased-call', { body });
    assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}`, compliance, { reason: 'DSAR' })).status, 204);
    for (const attempt of [() => put('erased-call', body), () => post('erased-call', body)]) {
      const event = await refusal(await attempt(), 'recording_deleted');
      assert.deepEqual([event.action, event.outcome, event.actor_sub, event.actor_role, event.recording_id], ['recording.uploaded', 'denied', 'pbx-7', 'pbx', r.id]);
      assert.deepEqual(
        [event.details.reason, event.details.callId, event.details.sha256, event.details.existingStatus],
        ['recording_deleted', 'erased-call', sha(body), 'deleted'],
      );
    }
  });

  test('overwriting a callId with other bytes (PUT and POST): 409 call_id_conflict, recording.uploaded denied with the refused digest', async () => {
    const r = await upload(vault, 'kept-call', { body: tinyWav(41) });
    const other = tinyWav(42);
    for (const attempt of [() => put('kept-call', other), () => post('kept-call', other)]) {
      const event = await refusal(await attempt(), 'call_id_conflict');
      assert.deepEqual([event.action, event.outcome, event.actor_sub, event.recording_id], ['recording.uploaded', 'denied', 'pbx-7', r.id]);
      assert.deepEqual(
        [event.details.reason, event.details.callId, event.details.sha256, event.details.sizeBytes],
        ['call_id_conflict', 'kept-call', sha(other), other.length],
      );
    }
    const kept = await row(vault, r.id);
    assert.deepEqual([kept.status, kept.sha256], ['active', r.sha256], 'the first recording is untouched');
  });
});
