import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { openPlayback } from '../../src/media/playback.js';
import { digestOf } from '../helpers/digest.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { heldUpload, json, playbackAfterRestart, row, runCli, streamingUploads, upload, waitFor } from '../retention/support.js';

/**
 * Retiring a local master key version while uploads are in flight under it and while another
 * replica still holds the old version in memory: no upload may answer 201 with a data key that
 * cannot be unwrapped once the version's file is gone and the vault has restarted.
 */
/** Held bodies sit idle across several CLI runs: keep the idle-body timeout out of the way. */
const HOLD_OPEN = { HTTP_IDLE_BODY_TIMEOUT_MS: '300000' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function committedIds(vault: TestVault): Promise<string[]> {
  const rows = await vault.deps.db('recordings').where({ status: 'active' }).select<{ id: string }[]>('id');
  return rows.map((r) => r.id);
}

describe('keys retire and uploads held open across it', () => {
  let vault: TestVault;
  let wav: Buffer;
  before(async () => {
    vault = await startVault({ env: HOLD_OPEN });
    wav = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
  });
  after(async () => { await vault.close(); });

  /** The grace is the retiring process's HTTP_REQUEST_TIMEOUT_MS plus a margin. */
  const retire = (version: number, requestTimeoutMs: number) =>
    runCli(vault, ['keys', 'retire', '--version', String(version)], { HTTP_REQUEST_TIMEOUT_MS: String(requestTimeoutMs) });

  test('the active version cannot be retired, even before any upload has recorded it', async () => {
    const refused = await retire(1, 500);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /local:v1 is the active version and cannot be retired; rotate first/);
    assert.equal(await vault.deps.keyVersions.active(), 'local:v1');
  });

  test('an upload wrapped under v1 and held open across rotate + retire commits within the grace and plays after a restart', async () => {
    const held = await heldUpload(vault, 'slow-within-grace', wav);
    await waitFor('the upload to stream', async () => (await streamingUploads(vault)) > 0);
    const rotated = await runCli(vault, ['keys', 'rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const retiring = await retire(1, 60_000);
    assert.equal(retiring.code, 75, `retire must wait for the grace, not delete v1 now: ${retiring.stdout}${retiring.stderr}`);
    assert.match(retiring.stderr, /local:v1 is now retiring/);
    await access(path.join(vault.dataDir, 'keys', 'master-v1.key'));

    held.release();
    const res = await held.response;
    assert.equal(res.status, 201, res.body.toString());
    const id = res.json<{ id: string }>().id;
    assert.equal((await row(vault, id)).key_ref, 'local:v1', 'wrapped under the version that was active when it began');
    assert.equal((await playbackAfterRestart(vault, 'acme', [id])).get(id), sha(wav));
  });

  test('an upload still open when the grace has passed and the version is retired is refused, never a 201 that cannot be decrypted', async () => {
    const held = await heldUpload(vault, 'slow-past-grace', wav);
    await waitFor('the upload to stream', async () => (await streamingUploads(vault)) > 0);
    assert.equal((await runCli(vault, ['keys', 'rotate'])).code, 0);
    const rewrap = await runCli(vault, ['keys', 'rewrap']);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    assert.equal((await retire(2, 500)).code, 75);
    await waitFor('the grace of v2 to pass', () => vault.deps.keyVersions.gracePassed('local:v2'));
    const retired = await retire(2, 500);
    assert.equal(retired.code, 0, retired.stderr);
    await assert.rejects(access(path.join(vault.dataDir, 'keys', 'master-v2.key')), 'v2 is gone');

    held.release();
    const res = await held.response;
    assert.equal(res.status, 503, res.body.toString());
    assert.equal(res.json<{ code: string }>().code, 'keys_unavailable');
    assert.equal(await vault.deps.db('recordings').where({ call_id: 'slow-past-grace' }).first(), undefined, 'nothing was committed');
    assert.equal(await streamingUploads(vault), 0);
    assert.equal((await vault.deps.db('uploads_in_progress').count<{ count: number }[]>('* as count'))[0]?.count, 0);

    const ids = await committedIds(vault);
    const played = await playbackAfterRestart(vault, 'acme', ids);
    for (const id of ids) assert.equal(played.get(id), sha(wav), `${id} plays after a restart`);
    const retry = await upload(vault, 'slow-past-grace', { body: wav });
    assert.equal((await row(vault, retry.id)).key_ref, 'local:v3', 'the retried upload goes under the active version');
  });
});

describe('two vaults on one database', () => {
  let a: TestVault;
  let b: TestVault;
  before(async () => {
    a = await startVault();
    b = await startVault({ replicaOf: a });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  test('one rotates; the other wraps its next upload under the new version without a restart, and both play everything', async () => {
    const first = await upload(b, 'replica-1');
    assert.equal((await row(b, first.id)).key_ref, 'local:v1');
    const rotated = await json(a, 'POST', '/v1/keys/rotate', await a.token('admin'), {});
    assert.equal(rotated.status, 200, rotated.body.toString());
    assert.equal(rotated.json<{ keyRef: string }>().keyRef, 'local:v2');

    const second = await upload(b, 'replica-2');
    assert.equal((await row(b, second.id)).key_ref, 'local:v2', 'the replica that did not rotate uses the new version at once');
    const expected = sha(await readFile(fixturePath('call-ulaw-8k-mono.wav')));
    for (const vault of [a, b]) {
      for (const id of [first.id, second.id]) {
        const recording = await vault.deps.recordings.findActive('acme', id);
        assert.ok(recording);
        assert.equal((await digestOf(await openPlayback(vault.deps, recording))).sha256, expected);
      }
    }
  });
});
