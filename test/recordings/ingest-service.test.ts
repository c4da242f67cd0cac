import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AppError } from '../../src/errors.js';
import type { FormUpload, UploadRequest, UploadTarget } from '../../src/ingest/ingest.js';
import { parseMetadata, type UploadMetadata } from '../../src/recordings/metadata.js';
import { createFakeIngest, wav, type FakeIngest } from './fakes.js';

/**
 * The ingest service's decisions, over in-memory fakes (fakes.ts): what is committed, kept,
 * discarded and audited, and when a data key is asked for. The same paths through the real
 * PostgreSQL, stores and key services are in ingest.test.ts, arrival.test.ts and test/faults.
 */
const ACTOR = { sub: 'pbx-1', role: 'pbx', ip: '192.0.2.1', userAgent: 'pbx/1', requestId: 'req-1' };
const meta = (fields: Record<string, string> = {}): UploadMetadata => parseMetadata(fields);

function put(callId: string, body: Buffer, fields: Record<string, string> = {}): UploadRequest {
  return { tenant: 'acme', actor: ACTOR, expectedSha256: null, source: { kind: 'raw', callId, meta: meta(fields), body: Readable.from([body]) } };
}

/** A form whose `before` fields precede its file part and whose `target` is every field. */
function form(body: Buffer, before: Record<string, string>, target: () => UploadTarget): UploadRequest {
  const source: FormUpload = { kind: 'form', read: async (onFile) => ({ file: await onFile(Readable.from([body]), meta(before)), target }) };
  return { tenant: 'acme', actor: ACTOR, expectedSha256: null, source };
}

async function refused(v: FakeIngest, request: UploadRequest, status: number, code: string): Promise<void> {
  await assert.rejects(v.service.upload(request), (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code);
    return true;
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('ingest service decisions', () => {
  test('a new upload commits its row and its audit event, and keeps its encrypted object', async () => {
    const v = createFakeIngest();
    const body = wav(1);
    const { created, recording } = await v.service.upload(put('new-1', body, { from: '+15550100' }));
    assert.equal(created, true);
    assert.equal(recording.sha256, sha(body));
    assert.equal(recording.policy, 'default');
    assert.equal(recording.from, '+15550100');
    assert.deepEqual([...v.store.objects.keys()], [recording.objectKey]);
    assert.ok(!v.store.objects.get(recording.objectKey ?? '')?.includes(body.subarray(44)), 'the object is ciphertext');
    assert.equal(v.keys.generated, 1);
    assert.equal(v.uploads.live.size, 0, 'the registration went with the commit');
    assert.deepEqual(v.audit.events.map((e) => [e.action, e.outcome, e.details?.created]), [['recording.uploaded', 'allowed', true]]);
    assert.equal(v.policies.resolved, 1, 'retention is resolved once');
  });

  test('the same bytes again: the existing receipt (200), audited, without a data key or a stored byte', async () => {
    const v = createFakeIngest();
    const first = await v.service.upload(put('same-1', wav(2)));
    const again = await v.service.upload(put('same-1', wav(2)));
    assert.equal(again.created, false);
    assert.equal(again.recording.id, first.recording.id);
    assert.equal(v.keys.generated, 1, 'no key for the retry');
    assert.equal(v.store.objects.size, 1);
    assert.deepEqual(v.audit.events.map((e) => e.details?.created), [true, false]);
  });

  test('other bytes under a stored callId: 409 call_id_conflict, audited as denied, nothing stored', async () => {
    const v = createFakeIngest();
    const first = await v.service.upload(put('other-1', wav(3)));
    await refused(v, put('other-1', wav(4)), 409, 'call_id_conflict');
    assert.equal(v.keys.generated, 1);
    assert.deepEqual([...v.store.objects.keys()], [first.recording.objectKey]);
    assert.equal(v.audit.denied.length, 1);
    assert.deepEqual(v.audit.denied[0]?.details, { reason: 'call_id_conflict', callId: 'other-1', sha256: sha(wav(4)), sizeBytes: wav(4).length, existingStatus: 'active' });
  });

  test('an erased callId: 409 recording_deleted, audited as denied', async () => {
    const v = createFakeIngest();
    await v.service.upload(put('erased-1', wav(5)));
    v.recordings.erase('acme', 'erased-1');
    await refused(v, put('erased-1', wav(5)), 409, 'recording_deleted');
    assert.equal(v.audit.denied[0]?.outcome, 'denied');
    assert.equal(v.audit.denied[0]?.details?.existingStatus, 'deleted');
  });

  test('a retention window that closed before arrival: 422 before any key, object or registration', async () => {
    const v = createFakeIngest();
    await refused(v, put('expired-1', wav(6), { startedAt: '1970-01-01T00:00:00Z' }), 422, 'retention_already_expired');
    assert.equal(v.keys.generated, 0);
    assert.equal(v.store.objects.size, 0);
    assert.equal(v.uploads.live.size, 0);
    assert.equal(v.recordings.rows.size, 0);
  });

  test('a commit that fails discards the staged object and its registration', async () => {
    const v = createFakeIngest();
    v.recordings.failInsert = new Error('insert failed');
    await refused(v, put('failed-1', wav(7)), 503, 'database_unavailable');
    assert.equal(v.store.objects.size, 0);
    assert.equal(v.uploads.live.size, 0);
    assert.equal(v.audit.events.length, 0);
  });

  test('a COMMIT whose reply is lost: the lookup decides', async () => {
    const v = createFakeIngest();
    v.db.commitFault = 'reply-lost';
    const kept = await v.service.upload(put('lost-committed', wav(8)));
    assert.equal(kept.created, true, 'it was committed: the receipt, not a failure');
    assert.ok(v.store.objects.has(kept.recording.objectKey ?? ''), 'its object is kept');

    v.db.commitFault = 'rolled-back';
    await refused(v, put('lost-rolled-back', wav(9)), 503, 'database_unavailable');
    assert.equal(v.recordings.rows.has('acme/lost-rolled-back'), false);
    assert.deepEqual([...v.store.objects.keys()], [kept.recording.objectKey], 'the unreferenced object is discarded');

    v.db.commitFault = 'down';
    await refused(v, put('lost-unknown', wav(10)), 503, 'database_unavailable');
    assert.equal(v.store.objects.size, 2, 'the outcome is unknown: the object a row may refer to is kept');
  });

  test('a form resolves retention once when its metadata precedes the file, again when later fields change it', async () => {
    const v = createFakeIngest();
    const early = { startedAt: new Date(Date.now() - 60_000).toISOString(), policy: 'month' };
    const first = await v.service.upload(form(wav(11), early, () => ({ callId: 'form-1', meta: meta(early) })));
    assert.equal(first.recording.policy, 'month');
    assert.equal(v.policies.resolved, 1);
    const late = await v.service.upload(form(wav(12), {}, () => ({ callId: 'form-2', meta: meta({ policy: 'week' }) })));
    assert.equal(late.recording.policy, 'week');
    assert.equal(v.policies.resolved, 3);
  });

  test('a form whose fields do not parse after its file discards the staged object', async () => {
    const v = createFakeIngest();
    await refused(v, form(wav(13), {}, () => ({ callId: 'form-bad', meta: meta({ startedAt: 'yesterday' }) })), 400, 'invalid_metadata');
    assert.equal(v.keys.generated, 1, 'the file was staged');
    assert.equal(v.store.objects.size, 0);
    assert.equal(v.uploads.live.size, 0);
  });
});
