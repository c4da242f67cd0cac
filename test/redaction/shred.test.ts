import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { probeWav } from '../../src/audio/index.js';
import { verifyTable } from '../../src/audit/verify.js';
import { request } from '../helpers/http.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, current, findWindow, json, pci, postRedaction, upload, type RedactionReceipt } from './support.js';

/**
 * After a `pci` redaction nothing of the redacted span survives anywhere the vault keeps bytes:
 * not on disk (data directory, S3 server directory), not in any object decrypted with any key the
 * database still holds; the old wrapped data key is in no row; the old object is gone with every
 * version. Before the redaction the same search finds the span, so the search itself works.
 */
async function spanWindow(original: Buffer, startMs: number): Promise<Buffer> {
  const info = probeWav(original);
  assert.ok(info);
  const at = info.dataOffset + Math.ceil((startMs + 200) * info.sampleRate / 1000) * info.blockAlign;
  const window = original.subarray(at, at + 48);
  assert.ok(new Set(window).size >= 8, 'the window is speech, not silence');
  return window;
}

/** The peaks of the buckets wholly inside [startMs, endMs), as served. */
async function spanPeaks(vault: TestVault, id: string, startMs: number, endMs: number): Promise<number[]> {
  const res = await json(vault, 'GET', `/v1/recordings/${id}/peaks`, await vault.token('supervisor'));
  assert.equal(res.status, 200, res.body.toString());
  const { bucketMs, peaks } = res.json<{ bucketMs: number; peaks: number[][] }>();
  const first = Math.ceil(startMs / bucketMs);
  const last = Math.floor(endMs / bucketMs);
  return (peaks[0] ?? []).slice(first * 2, last * 2);
}

async function shredScenario(vault: TestVault, callId: string): Promise<void> {
  const original = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
  const receipt = await upload(vault, callId, { body: original });
  const before = await current(vault, receipt.id);
  const window = await spanWindow(original, 4000);
  assert.ok((await findWindow(vault, receipt.id, window)).some((w) => w.endsWith('(decrypted)')), 'the search finds the span before the redaction');

  const sup = await vault.token('supervisor');
  const link = await json(vault, 'POST', `/v1/recordings/${receipt.id}/links`, sup, { reason: 'quality review' });
  const oldUrl = new URL(link.json<{ url: string }>().url).pathname;
  assert.equal((await request(vault, { path: oldUrl, headers: { 'user-agent': 'player' } })).status, 200);

  const peaksBefore = await spanPeaks(vault, receipt.id, 4000, 6000);
  assert.ok(peaksBefore.some((v) => v !== 0), 'the span has a waveform before');
  assert.ok(await vault.deps.store.head(`peaks/acme/${receipt.id}`), 'and its peaks are cached');

  const res = await postRedaction(vault, receipt.id, pci(4000, 6000));
  assert.equal(res.status, 201, res.body.toString());
  const r = res.json<RedactionReceipt>();
  assert.equal(r.originalKept, false);

  assert.deepEqual(await findWindow(vault, receipt.id, window), [], 'no window of the redacted span anywhere');
  assert.equal(await vault.deps.store.head(`peaks/acme/${receipt.id}`), null, 'the old peaks are deleted');
  assert.ok((await spanPeaks(vault, receipt.id, 4000, 6000)).every((v) => v === 0), 'peaks show the silence');
  assert.equal(await vault.deps.store.head(before.objectKey ?? ''), null, 'the original object is deleted');
  for (const table of ['recordings', 'redaction_originals']) {
    const holding = await vault.deps.db(table).where({ wrapped_key: before.wrappedKey }).count<{ count: string }[]>('* as count');
    assert.equal(Number(holding[0]?.count), 0, `no ${table} row holds the old wrapped key`);
  }
  const events = await auditEvents(vault, { recordingId: receipt.id });
  const redacted = events.find((e) => e.action === 'recording.redacted');
  assert.deepEqual(
    [redacted?.details.previousSha256, redacted?.details.sha256, redacted?.details.previousKeyDestroyed, redacted?.details.category],
    [receipt.sha256, r.sha256, true, 'pci'],
  );
  const shredded = events.find((e) => e.action === 'recording.original_shredded');
  assert.deepEqual([shredded?.details.previousSha256, shredded?.details.sha256, shredded?.details.objectDeleted, shredded?.details.keyDestroyed], [receipt.sha256, r.sha256, true, true]);
  const serialized = JSON.stringify(events);
  assert.ok(!serialized.includes(before.wrappedKey?.toString('base64') ?? '-') && !serialized.includes(before.wrappedKey?.toString('hex') ?? '-'), 'the audit log holds no key');

  const gone = await request(vault, { path: oldUrl, headers: { 'user-agent': 'player' } });
  assert.equal(gone.status, 410, gone.body.toString());
  const problem = gone.json<{ code: string; requestId: string }>();
  assert.equal(problem.code, 'link_superseded');
  const denied = (await auditEvents(vault, { action: 'auth.denied', recordingId: receipt.id })).at(-1);
  assert.equal(denied?.details.reason, 'link_superseded');

  const fresh = await json(vault, 'POST', `/v1/recordings/${receipt.id}/links`, sup, { reason: 'quality review, redacted' });
  const played = await request(vault, { path: new URL(fresh.json<{ url: string }>().url).pathname, headers: { 'user-agent': 'player' } });
  assert.equal(played.status, 200);
  assert.equal(createHash('sha256').update(played.body).digest('hex'), r.sha256, 'playback serves the new bytes');
  assert.equal(played.headers.etag, `"${r.sha256}"`);
  const retry = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}`, body: original, token: await vault.token('pbx'), headers: { 'content-type': 'audio/wav' } });
  assert.equal(retry.status, 200, 'a PBX retrying the upload gets the receipt of the redacted recording');
  assert.deepEqual([retry.json().sha256, retry.json().version], [r.sha256, 2]);
  assert.deepEqual(await findWindow(vault, receipt.id, window), [], 'and nothing of what it sent is kept');
  const verified = await verifyTable(vault.deps.db, undefined);
  assert.ok(verified.ok, verified.reason);
}

describe('a pci redaction on the fs store with local keys', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(() => vault.close());

  test('leaves no byte of the span, no old key, no old object; old links answer 410', () => shredScenario(vault, 'shred-fs'));
});

describe('a pci redaction on S3 with KMS', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault({ storage: 's3', keys: 'aws-kms' }); });
  after(() => vault.close());

  test('deletes the original object and keeps no byte of the span', async () => {
    await shredScenario(vault, 'shred-s3');
    const recording = await vault.deps.db('recordings').where({ call_id: 'shred-s3' }).first<{ object_key: string }>();
    const keys: string[] = [];
    for await (const o of vault.deps.store.list('recordings/')) keys.push(o.key);
    assert.deepEqual(keys, [recording?.object_key], 'only the redacted version is in the bucket');
  });
});
