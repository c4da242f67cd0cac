import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { openPlayback } from '../../src/media/playback.js';
import { runOrphanSweep, type OrphanSweepResult } from '../../src/retention/orphans.js';
import { digestOf } from '../helpers/digest.js';
import { request, type HttpResponse } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { ageStoredFiles, auditLogLock, heldUpload, sleep, storedAndBlockedInCommit, streamingUploads, superuser, waitFor } from './support.js';
import { objectKeys } from '../faults/support.js';

/**
 * The orphan sweep against uploads that are still in progress: neither a body that has been idle
 * for longer than the grace period nor an object whose commit has not finished yet may be taken
 * for an orphan.
 */
/** Held bodies sit idle across several CLI runs: keep the idle-body timeout out of the way. */
const HOLD_OPEN = { HTTP_IDLE_BODY_TIMEOUT_MS: '300000' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');


async function playsAs(vault: TestVault, res: HttpResponse, expected: Buffer): Promise<void> {
  assert.equal(res.status, 201, res.body.toString());
  const recording = await vault.deps.recordings.findActive('acme', res.json<{ id: string }>().id);
  assert.ok(recording);
  assert.equal((await digestOf(await openPlayback(vault.deps, recording))).sha256, sha(expected));
}

describe('orphan sweep and uploads in progress', () => {
  let vault: TestVault;
  let su: pg.Client;
  let wav: Buffer;
  before(async () => {
    vault = await startVault({ env: HOLD_OPEN });
    su = await superuser(vault);
    wav = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
  });
  after(async () => {
    await su.end();
    await vault.close();
  });

  test('an upload held open longer than the grace is not swept, then completes to 201 and plays', async () => {
    const held = await heldUpload(vault, 'idle-past-grace', wav);
    await waitFor('the upload to stream', async () => (await streamingUploads(vault)) > 0);
    await ageStoredFiles(vault, '.tmp', 3_600_000);
    const sweep = await runOrphanSweep(vault.deps, new Date(), { graceMs: 300 });
    assert.deepEqual([sweep.deleted, sweep.tempFiles, sweep.failed], [0, 0, 0], 'the idle upload\'s temp file is kept');
    assert.equal(await streamingUploads(vault), 1);
    held.release();
    await playsAs(vault, await held.response, wav);
    assert.equal((await su.query('SELECT 1 FROM uploads_in_progress')).rowCount, 0, 'the commit removed the registration');
  });

  test('an upload whose process lost its liveness lock while the body streamed takes it again at commit: 201, and it plays', async () => {
    const held = await heldUpload(vault, 'liveness-lost-mid-upload', wav);
    await waitFor('the upload to stream', async () => (await streamingUploads(vault)) > 0);
    await vault.deps.uploads.close();
    assert.equal((await vault.deps.uploads.live()).size, 0, 'without the lock the registration is not live');
    held.release();
    await playsAs(vault, await held.response, wav);
    assert.equal((await su.query('SELECT 1 FROM uploads_in_progress')).rowCount, 0, 'the commit removed the registration');
  });

  test('the object of an upload whose commit has not finished is not swept, however old it looks', async () => {
    const before = await objectKeys(vault.deps.store);
    let objectKey: string | undefined;
    let sweep: Promise<OrphanSweepResult> | undefined;
    let pending: Promise<HttpResponse> | undefined;
    // The commit's recording.uploaded event waits for the audit chain lock, held here.
    const auditLock = await auditLogLock(vault);
    await su.query(auditLock.take);
    try {
      pending = request(vault, {
        method: 'PUT', path: '/v1/recordings/commit-held', token: await vault.token('pbx'), body: wav, headers: { 'content-type': 'audio/wav' },
      });
      objectKey = await storedAndBlockedInCommit(vault, su, before, 'the upload to store its object and block in its commit');
      sweep = runOrphanSweep(vault.deps, new Date(Date.now() + 3_600_000), { graceMs: 1_000 });
      await Promise.race([sweep, sleep(2_000)]);
      assert.ok(await vault.deps.store.head(objectKey), 'the uncommitted object is still there');
    } finally {
      await su.query(auditLock.release);
    }
    assert.equal((await sweep).deleted, 0);
    await playsAs(vault, await pending, wav);
  });
});
