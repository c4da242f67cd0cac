import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import type { S3rverHandle } from '../helpers/s3rver.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import {
  MIB, assertNotReady, assertPlays, assertUnavailable, fixture, generatedWav, holdCommits, issueLink, objectKeys,
  recordingRows, send, sha256, superuser, waitReady, type Receipt,
} from './support.js';

/**
 * s3rver stopped (connections cut, as a crashed store would) before an upload, in the middle of
 * one, and between the stored object and the committed row; and the commit itself failing at
 * that point. Each time: an accurate 503, no visible partial recording, no committed recording
 * lost, and the next request served normally once the store is back.
 */
describe('object storage failing around an upload', () => {
  let vault: TestVault;
  let s3: S3rverHandle;
  let pbx: string;
  let sup: string;
  let su: pg.Client;
  const committed: Receipt[] = [];

  const put = (callId: string, body: Buffer) => send(vault, {
    method: 'PUT', path: `/v1/recordings/${callId}`, token: pbx, body, headers: { 'content-type': 'application/octet-stream' },
  });

  /** The retry a PBX makes after a 503: 201 once, then 200 with the same receipt. */
  const retryTwice = async (callId: string, body: Buffer): Promise<Receipt> => {
    const first = await put(callId, body);
    assert.equal(first.status, 201, first.body.toString());
    const receipt = first.json<Receipt>();
    assert.equal(receipt.sha256, sha256(body));
    const again = await put(callId, body);
    assert.equal(again.status, 200, again.body.toString());
    assert.equal(again.json<Receipt>().id, receipt.id);
    committed.push(receipt);
    return receipt;
  };

  /** Every object in the bucket belongs to a row and every row's object is there. */
  const assertNoStrayObjects = async (): Promise<void> => {
    const rows = await recordingRows(vault.deps.db);
    assert.deepEqual(await objectKeys(s3.store), rows.map((r) => r.object_key).sort());
  };

  before(async () => {
    vault = await startVault({ storage: 's3', env: { S3_MAX_ATTEMPTS: '2' } });
    assert.ok(vault.s3);
    s3 = vault.s3;
    pbx = await vault.token('pbx');
    sup = await vault.token('supervisor');
    su = await superuser(vault.database.superuserUrl);
    const first = await put('committed-before-faults.wav', await fixture('call-pcm16-8k-stereo.wav'));
    assert.equal(first.status, 201, first.body.toString());
    committed.push(first.json<Receipt>());
  });

  after(async () => {
    await su?.end();
    await vault?.close();
  });

  test('store down before the upload: 503 storage_unavailable, readyz names storage, nothing kept; after a restart the retry is 201 then 200', async () => {
    const body = await fixture('call-ulaw-8k-mono.wav');
    const mediaPath = await issueLink(vault, sup, committed[0]!.id);
    await s3.stop();
    try {
      await assertNotReady(vault, 'storage');
      const res = await put('store-down-before.wav', body);
      assertUnavailable('PUT', '/v1/recordings/store-down-before.wav', res, 'storage_unavailable');
      assertUnavailable('GET', mediaPath, await send(vault, { path: mediaPath }), 'storage_unavailable');
    } finally {
      await s3.restart();
    }
    await waitReady(vault);
    assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === 'store-down-before'), false);
    await assertNoStrayObjects();
    await assertPlays(vault, sup, committed[0]!.id, committed[0]!, mediaPath);
    await retryTwice('store-down-before.wav', body);
  });

  test('store killed in the middle of a 64 MB streamed upload: 503 storage_unavailable, no row, no object; the retry stores every byte', async () => {
    const size = 64 * MIB;
    let stopping: Promise<void> | undefined;
    const wav = generatedWav(size, 64, { onProgress: (n) => { if (n >= 20 * MIB) stopping ??= s3.stop(); } });
    const path = '/v1/recordings/store-killed-mid-stream.wav';
    const res = await send(vault, { method: 'PUT', path, token: pbx, body: wav.stream, headers: { 'content-type': 'audio/wav', 'content-length': String(size) } });
    await stopping;
    try {
      assertUnavailable('PUT', path, res, 'storage_unavailable');
      assert.ok(wav.produced() < size, 'the vault answered without waiting for the rest of the body');
    } finally {
      await s3.restart();
    }
    await waitReady(vault);
    assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === 'store-killed-mid-stream'), false);
    await assertNoStrayObjects();

    const retry = generatedWav(size, 64);
    const ok = await send(vault, { method: 'PUT', path, token: pbx, body: retry.stream, headers: { 'content-type': 'audio/wav', 'content-length': String(size) } });
    assert.equal(ok.status, 201, ok.body.toString());
    const receipt = ok.json<Receipt>();
    assert.equal(receipt.sha256, retry.digest());
    assert.equal(receipt.sizeBytes, size);
    committed.push(receipt);
    await assertPlays(vault, sup, receipt.id, receipt);
  });

  test('store down after the object is written but before the row commits: the commit stands (201), playback is 503 until the store is back, then byte for byte', async () => {
    const body = await fixture('call-8k-mono.mp3');
    const objectsBefore = await objectKeys(s3.store);
    const hold = await holdCommits(su);
    const pending = put('store-down-before-commit.mp3', body);
    try {
      await hold.blockedPid();
      assert.equal((await objectKeys(s3.store)).length, objectsBefore.length + 1, 'the object is stored, the row is not');
    } finally {
      await s3.stop();
      await hold.release();
    }
    try {
      const res = await pending;
      assert.equal(res.status, 201, res.body.toString());
      const receipt = res.json<Receipt>();
      committed.push(receipt);
      const view = await send(vault, { path: `/v1/recordings/${receipt.id}`, token: sup });
      assert.equal(view.status, 200, 'metadata is served without the store');
      const mediaPath = await issueLink(vault, sup, receipt.id);
      assertUnavailable('GET', mediaPath, await send(vault, { path: mediaPath }), 'storage_unavailable');
    } finally {
      await s3.restart();
    }
    await waitReady(vault);
    const receipt = committed.at(-1)!;
    assert.equal(receipt.sha256, sha256(body));
    await assertPlays(vault, sup, receipt.id, receipt);
    await assertNoStrayObjects();
  });

  test('the commit fails after the object is stored: 503 database_unavailable, no row, the object is deleted before the answer', async () => {
    const body = await fixture('call-16k-mono.opus');
    const objectsBefore = await objectKeys(s3.store);
    const hold = await holdCommits(su);
    const pending = put('commit-killed.opus', body);
    let res;
    try {
      const pid = await hold.blockedPid();
      assert.equal((await objectKeys(s3.store)).length, objectsBefore.length + 1);
      await su.query('SELECT pg_terminate_backend($1)', [pid]);
      res = await pending;
    } finally {
      await hold.release();
    }
    assertUnavailable('PUT', '/v1/recordings/commit-killed.opus', res, 'database_unavailable');
    assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === 'commit-killed'), false);
    assert.deepEqual(await objectKeys(s3.store), objectsBefore);
    await retryTwice('commit-killed.opus', body);
  });

  test('store down and the commit failing together: 503, no row; the object left behind is removed by the orphan sweep', async () => {
    const body = await fixture('call-pcm16-8k-stereo.wav');
    const objectsBefore = await objectKeys(s3.store);
    const hold = await holdCommits(su);
    const pending = put('store-and-commit-down.wav', body);
    let res;
    let stopped = false;
    let leftover: string | undefined;
    try {
      const pid = await hold.blockedPid();
      leftover = (await objectKeys(s3.store)).find((k) => !objectsBefore.includes(k));
      assert.ok(leftover);
      await s3.stop();
      stopped = true;
      await su.query('SELECT pg_terminate_backend($1)', [pid]);
      res = await pending;
    } finally {
      await hold.release();
      if (stopped) await s3.restart();
    }
    assertUnavailable('PUT', '/v1/recordings/store-and-commit-down.wav', res, 'database_unavailable');
    await waitReady(vault);
    assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === 'store-and-commit-down'), false);
    assert.deepEqual(await objectKeys(s3.store), [...objectsBefore, leftover].sort(), 'the store was down when the upload tried to clean up');

    const swept = await runOrphanSweep(vault.deps, new Date(Date.now() + 1_000), { graceMs: 0 });
    assert.deepEqual(swept.keys, [leftover]);
    await assertNoStrayObjects();
    const events = await vault.deps.db('audit_events').where({ action: 'orphan.deleted' }).select('details');
    assert.equal(events.length, 1);
    await retryTwice('store-and-commit-down.wav', body);
  });

  test('no committed recording was lost: each plays byte for byte and no other row exists', async () => {
    const rows = await recordingRows(vault.deps.db);
    assert.deepEqual(rows.map((r) => r.id).sort(), committed.map((r) => r.id).sort());
    for (const r of committed) await assertPlays(vault, sup, r.id, r);
    await assertNoStrayObjects();
  });
});
