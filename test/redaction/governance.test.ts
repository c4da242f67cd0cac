import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { decodeAudio } from '../../src/audio/index.js';
import { tinyWav } from '../access/support.js';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { request } from '../helpers/http.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, current, json, pci, plaintextOf, postRedaction, upload, type RedactionReceipt } from './support.js';
import { objectKeys } from '../faults/support.js';

/** Strict input, legal hold interplay and the sealed original of a pii redaction. */
describe('redaction input, legal hold and sealed originals', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(() => vault.close());

  test('bad orders answer 400 or 422 naming the problem, and change nothing', async () => {
    const r = await upload(vault, 'strict-1');
    const stored = await objectKeys(vault.deps.store);
    const bad: Array<[unknown, number, string, RegExp]> = [
      [{ ...pci(0, 100), reason: '' }, 400, 'invalid_body', /reason/],
      [pci(500, 500), 400, 'invalid_body', /endMs must be greater than startMs/],
      [{ ...pci(0, 100), extra: 1 }, 400, 'invalid_body', /extra/],
      [{ ...pci(0, 100), category: 'pan' }, 400, 'invalid_body', /category/],
      [{ ...pci(0, 100), fill: 'noise' }, 400, 'invalid_body', /fill/],
      [{ ...pci(0, 100), ranges: [] }, 400, 'invalid_body', /at least one range/],
      [pci(-1, 100), 400, 'invalid_body', /startMs/],
      [pci(1.5, 100), 400, 'invalid_body', /startMs/],
      [pci(17_000, 60_000), 422, 'redaction_range_outside', /outside the recording, which lasts \d+ ms/],
      [{ ...pci(0, 100), ranges: [{ startMs: 0, endMs: 100, channel: 1 }] }, 422, 'redaction_range_outside', /channel 1 does not exist/],
    ];
    for (const [body, status, code, message] of bad) {
      const res = await postRedaction(vault, r.id, body);
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.body.toString()}`);
      const problem = res.json<{ code: string; detail: string }>();
      assert.equal(problem.code, code);
      assert.match(problem.detail, message);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    assert.equal((await current(vault, r.id)).version, 1);
    assert.equal((await current(vault, r.id)).sha256, r.sha256);
    const other = await postRedaction(vault, r.id, pci(0, 100), await vault.token('compliance', { tenant: 'globex' }));
    assert.equal(other.status, 404, 'another tenant\'s recording is not found');
    const sup = await postRedaction(vault, r.id, pci(0, 100), await vault.token('supervisor'));
    assert.equal(sup.status, 403, 'without four-eyes only compliance redacts');
    assert.deepEqual(await objectKeys(vault.deps.store), stored, 'no object was written or left behind');
  });

  test('audio that cannot be read answers with its own error, not as a bad upload, and nothing changes', async () => {
    const flac = await upload(vault, 'unreadable-flac', { body: Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(4096, 7)]) });
    const undecodable = await postRedaction(vault, flac.id, pci(0, 100));
    assert.equal(undecodable.status, 422);
    assert.equal(undecodable.json().code, 'audio_undecodable');

    const big = await upload(vault, 'tampered', { body: tinyWav(9, 2_000_000) });
    const stored = await objectKeys(vault.deps.store);
    const file = path.join(vault.config.storage.driver === 'fs' ? vault.config.storage.root : '', (await current(vault, big.id)).objectKey ?? '');
    const bytes = await readFile(file);
    bytes[1_600_000] = (bytes[1_600_000] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const tampered = await postRedaction(vault, big.id, pci(0, 100));
    assert.equal(tampered.status, 500, tampered.body.toString());
    assert.equal(tampered.json().code, 'integrity_failed', 'a stored recording that fails authentication is not redacted into a new version');
    assert.deepEqual([(await current(vault, big.id)).version, await objectKeys(vault.deps.store)], [1, stored], 'nothing changed, nothing was left behind');
  });

  test('a recording of a type no decoder reads is refused naming every format that is decoded', async () => {
    const r = await upload(vault, 'undecodable-type');
    // Ingest stores only types it proved from the bytes; a row of another type is an older vault's.
    await vault.deps.db('recordings').where({ id: r.id }).update({ content_type: 'audio/aac' });
    const res = await postRedaction(vault, r.id, pci(0, 100));
    assert.equal(res.status, 422, res.body.toString());
    const problem = res.json<{ code: string; detail: string }>();
    assert.equal(problem.code, 'audio_undecodable');
    assert.equal(problem.detail, 'Recordings stored as audio/aac cannot be decoded, so not redacted; WAV, MP3, FLAC, Ogg with Opus or Vorbis, and WebM with Opus can');
    assert.throws(() => decodeAudio(Readable.from([]), 'audio/aac'), { name: 'AudioDecodeError', message: 'Recordings of type audio/aac cannot be decoded; WAV, MP3, FLAC, Ogg with Opus or Vorbis, and WebM with Opus can' });
    assert.equal((await current(vault, r.id)).version, 1, 'nothing changed');
  });

  test('a held recording refuses pci, and pii unless the tenant keeps originals', async () => {
    const r = await upload(vault, 'held-1');
    const compliance = await vault.token('compliance');
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, compliance, { reason: 'litigation', caseId: 'CASE-7' })).status, 200);
    const refusedPci = await postRedaction(vault, r.id, pci(1000, 2000));
    assert.equal(refusedPci.status, 409);
    assert.equal(refusedPci.json().code, 'legal_hold');
    assert.match(refusedPci.json<{ detail: string }>().detail, /pci redaction destroys the original/);
    const pii = { ...pci(1000, 2000), category: 'pii' };
    const refusedPii = await postRedaction(vault, r.id, pii);
    assert.equal(refusedPii.status, 409);
    assert.match(refusedPii.json<{ detail: string }>().detail, /does not keep pii originals/);
    assert.equal((await current(vault, r.id)).version, 1, 'nothing changed');

    const admin = await vault.token('admin');
    const set = await json(vault, 'PUT', '/v1/redaction-settings', admin, { keepPiiOriginal: true });
    assert.deepEqual(set.json(), { keepPiiOriginal: true });
    assert.equal((await postRedaction(vault, r.id, pci(1000, 2000))).status, 409, 'pci still destroys the original: refused');
    const ok = await postRedaction(vault, r.id, pii);
    assert.equal(ok.status, 201, ok.body.toString());
    const receipt = ok.json<RedactionReceipt>();
    assert.equal(receipt.originalKept, true);
    const after = await current(vault, r.id);
    assert.equal(after.legalHold, true, 'the hold stays on the recording');
    assert.equal(after.version, 2);
    await json(vault, 'PUT', '/v1/redaction-settings', admin, { keepPiiOriginal: false });
  });

  test('a kept original is sealed: compliance reads it, audited, and the sweep keeps it', async () => {
    const admin = await vault.token('admin');
    await json(vault, 'PUT', '/v1/redaction-settings', admin, { keepPiiOriginal: true });
    const original = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
    const r = await upload(vault, 'sealed-1', { body: original });
    const before = await current(vault, r.id);
    const res = await postRedaction(vault, r.id, { ...pci(3000, 4000), category: 'pii', reason: 'date of birth' });
    assert.equal(res.status, 201);
    const receipt = res.json<RedactionReceipt>();
    assert.ok(await vault.deps.store.head(before.objectKey ?? ''), 'the original object is kept');

    const path = `/v1/recordings/${r.id}/redactions/${receipt.id}/original`;
    const read = await request(vault, { path, token: await vault.token('compliance') });
    assert.equal(read.status, 200);
    assert.ok(read.body.equals(original), 'the original, byte for byte');
    const reads = await auditEvents(vault, { action: 'redaction.original_read', recordingId: r.id });
    assert.equal(reads.length, 1);
    assert.equal(reads[0]?.details.sha256, r.sha256);
    for (const role of ['supervisor', 'agent', 'admin'] as const) {
      assert.equal((await request(vault, { path, token: await vault.token(role) })).status, 403, role);
    }

    const swept = await runOrphanSweep(vault.deps, new Date(Date.now() + 86_400_000), { graceMs: 0 });
    assert.ok(!swept.keys.includes(before.objectKey ?? ''), 'the sealed original is not an orphan');
    assert.ok(!swept.keys.includes((await current(vault, r.id)).objectKey ?? ''), 'nor is the current version');
    assert.equal(createHash('sha256').update(await plaintextOf(vault, r.id)).digest('hex'), receipt.sha256);

    const list = await json(vault, 'GET', `/v1/recordings/${r.id}/redactions`, await vault.token('compliance'));
    assert.deepEqual(list.json<{ items: RedactionReceipt[] }>().items.map((i) => [i.id, i.originalKept]), [[receipt.id, true]]);

    // Erased: the sealed original goes with it (key destroyed at once, object swept).
    assert.equal((await request(vault, { method: 'DELETE', path: `/v1/recordings/${r.id}`, token: await vault.token('compliance') })).status, 204);
    const sealed = await vault.deps.db('redaction_originals').where({ redaction_id: receipt.id }).first<{ wrapped_key: Buffer | null }>();
    assert.equal(sealed?.wrapped_key, null, 'erasure destroys the sealed original\'s key');
    const after = await runOrphanSweep(vault.deps, new Date(Date.now() + 86_400_000), { graceMs: 0 });
    assert.ok(after.keys.includes(before.objectKey ?? ''), 'and the sweep deletes its object');
    await json(vault, 'PUT', '/v1/redaction-settings', admin, { keepPiiOriginal: false });
  });
});

/** REDACTION_APPROVAL=required: a supervisor requests, another compliance user approves or refuses. */
describe('four-eyes redaction', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault({ env: { REDACTION_APPROVAL: 'required' } }); });
  after(() => vault.close());

  test('a request is pending until another compliance user approves it, which makes the version', async () => {
    const r = await upload(vault, 'four-eyes-1');
    const asked = await postRedaction(vault, r.id, pci(1000, 2500), await vault.token('supervisor', { sub: 'sup-ann' }));
    assert.equal(asked.status, 202, asked.body.toString());
    const request0 = asked.json<{ id: string; status: string; requestedBy: string }>();
    assert.deepEqual([request0.status, request0.requestedBy], ['pending', 'sup-ann']);
    assert.equal((await current(vault, r.id)).version, 1, 'nothing is redacted before the approval');

    const pending = await json(vault, 'GET', '/v1/redaction-requests?status=pending', await vault.token('compliance'));
    assert.deepEqual(pending.json<{ items: Array<{ id: string }> }>().items.map((i) => i.id), [request0.id]);
    assert.equal((await json(vault, 'POST', `/v1/redaction-requests/${request0.id}/approve`, await vault.token('supervisor', { sub: 'sup-bob' }), {})).status, 403, 'supervisors do not approve');

    const approved = await json(vault, 'POST', `/v1/redaction-requests/${request0.id}/approve`, await vault.token('compliance', { sub: 'comp-cid' }), { note: 'checked against the call notes' });
    assert.equal(approved.status, 201, approved.body.toString());
    const receipt = approved.json<RedactionReceipt>();
    assert.deepEqual([receipt.version, receipt.requestedBy, receipt.approvedBy], [2, 'sup-ann', 'comp-cid']);
    assert.equal((await current(vault, r.id)).sha256, receipt.sha256);
    const again = await json(vault, 'POST', `/v1/redaction-requests/${request0.id}/approve`, await vault.token('compliance', { sub: 'comp-dee' }), {});
    assert.equal(again.status, 409);
    assert.equal(again.json().code, 'redaction_request_decided');

    const events = await auditEvents(vault, { recordingId: r.id });
    const requested = events.find((e) => e.action === 'redaction.requested');
    const approval = events.find((e) => e.action === 'redaction.approved');
    assert.deepEqual([requested?.actor_sub, requested?.details.requestId], ['sup-ann', request0.id]);
    assert.deepEqual([approval?.actor_sub, approval?.details.requestedBy, approval?.details.redactionId], ['comp-cid', 'sup-ann', receipt.id]);
  });

  test('the requester cannot approve its own request; a refusal changes nothing and is audited', async () => {
    const r = await upload(vault, 'four-eyes-2');
    const mine = await vault.token('compliance', { sub: 'comp-eve' });
    const asked = await postRedaction(vault, r.id, pci(1000, 2500), mine);
    assert.equal(asked.status, 202, 'with four-eyes a compliance user also only requests');
    const id = asked.json<{ id: string }>().id;
    const self = await json(vault, 'POST', `/v1/redaction-requests/${id}/approve`, mine, {});
    assert.equal(self.status, 403);
    assert.equal(self.json().code, 'approver_is_requester');
    const denied = (await auditEvents(vault, { action: 'redaction.approved', recordingId: r.id }));
    assert.deepEqual(denied.map((e) => [e.actor_sub, e.details.reason]), [['comp-eve', 'approver_is_requester']]);

    const refused = await json(vault, 'POST', `/v1/redaction-requests/${id}/refuse`, await vault.token('compliance', { sub: 'comp-fay' }), { note: 'no card data at that time' });
    assert.equal(refused.status, 200, refused.body.toString());
    assert.deepEqual(
      [refused.json().status, refused.json().decidedBy, refused.json().decisionNote, refused.json().redactionId],
      ['refused', 'comp-fay', 'no card data at that time', null],
    );
    assert.deepEqual([(await current(vault, r.id)).version, (await current(vault, r.id)).sha256], [1, r.sha256]);
    const late = await json(vault, 'POST', `/v1/redaction-requests/${id}/approve`, await vault.token('compliance', { sub: 'comp-gus' }), {});
    assert.equal(late.status, 409);
    const events = await auditEvents(vault, { action: 'redaction.refused', recordingId: r.id });
    assert.deepEqual(events.map((e) => [e.actor_sub, e.details.requestedBy, e.details.note]), [['comp-fay', 'comp-eve', 'no card data at that time']]);
    assert.equal((await auditEvents(vault, { action: 'recording.redacted', recordingId: r.id })).length, 0);
  });
});
