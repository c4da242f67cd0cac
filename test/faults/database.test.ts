import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { scratchDir } from '../helpers/scratch.js';
import {
  MIB, assertNotReady, assertPlays, assertUnavailable, fixture, generatedWav, issueLink, objectKeys, recordingRows, send, sha256,
  superuser, terminateSessions, waitReady, type Receipt,
} from './support.js';

/**
 * The vault on a PostgreSQL server of its own (the suite's shared server must not be restarted:
 * other files use it), which the tests stop, restart on the same port and data directory, and
 * whose sessions they terminate, before and in the middle of uploads.
 */
describe('the database going away around an upload', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  let server: EmbeddedPostgres;
  let vault: TestVault;
  let pbx: string;
  let sup: string;
  const committed: Receipt[] = [];

  const restartDatabase = async (): Promise<void> => {
    server = await EmbeddedPostgres.start({ dir: path.join(dir, 'postgres'), port: db.server.port });
  };

  const put = (callId: string, body: Buffer) => send(vault, {
    method: 'PUT', path: `/v1/recordings/${callId}`, token: pbx, body, headers: { 'content-type': 'audio/wav' },
  });

  const putStream = (callId: string, size: number, seed: number, hold: (produced: number) => Promise<void> | undefined) => {
    const wav = generatedWav(size, seed, { hold });
    const res = send(vault, {
      method: 'PUT', path: `/v1/recordings/${callId}`, token: pbx, body: wav.stream,
      headers: { 'content-type': 'audio/wav', 'content-length': String(size) },
    });
    return { wav, res };
  };

  /** A hold that stops a streamed body once, at `at` bytes, until `action` has run. */
  const pauseOnce = (at: number, action: () => Promise<void>) => {
    let done: Promise<void> | undefined;
    return {
      hold: (produced: number) => (produced >= at ? (done ??= action()) : undefined),
      finished: () => done,
    };
  };

  before(async () => {
    dir = await scratchDir('callvault-dbfault-');
    db = await startEmbeddedDatabase(loadConfig({ CALLVAULT_DATA_DIR: dir, EMBEDDED_DATABASE_PORT: '0' }));
    server = db.server;
    vault = await startVault({ env: { DATABASE_URL: db.url, DATABASE_ADMIN_URL: db.adminUrl, DATABASE_CONNECT_TIMEOUT_MS: '2000' } });
    pbx = await vault.token('pbx');
    sup = await vault.token('supervisor');
    const first = await put('committed-before-faults', await fixture('call-pcm16-8k-stereo.wav'));
    assert.equal(first.status, 201, first.body.toString());
    committed.push(first.json<Receipt>());
  });

  after(async () => {
    await vault?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('database down before the upload: 503 database_unavailable on upload, search and playback, readyz names database; after a restart the retry is 201 then 200', async () => {
    const body = await fixture('call-ulaw-8k-mono.wav');
    const mediaPath = await issueLink(vault, sup, committed[0]!.id);
    await server.stop();
    try {
      await assertNotReady(vault, 'database');
      assertUnavailable('PUT', '/v1/recordings/db-down-before', await put('db-down-before', body), 'database_unavailable');
      assertUnavailable('GET', '/v1/recordings', await send(vault, { path: '/v1/recordings', token: sup }), 'database_unavailable');
      assertUnavailable('GET', mediaPath, await send(vault, { path: mediaPath }), 'database_unavailable');
    } finally {
      await restartDatabase();
    }
    await waitReady(vault);
    const first = await put('db-down-before', body);
    assert.equal(first.status, 201, first.body.toString());
    const receipt = first.json<Receipt>();
    committed.push(receipt);
    const again = await put('db-down-before', body);
    assert.equal(again.status, 200, again.body.toString());
    assert.equal(again.json<Receipt>().id, receipt.id);
    await assertPlays(vault, sup, committed[0]!.id, committed[0]!, mediaPath);
  });

  test('database restarted while a 24 MB upload streams in: the upload commits (201) and plays byte for byte', async () => {
    const size = 24 * MIB;
    const pause = pauseOnce(8 * MIB, async () => {
      await server.stop();
      await restartDatabase();
    });
    const { wav, res } = putStream('db-restart-mid-upload', size, 24, pause.hold);
    const answer = await res;
    await pause.finished();
    assert.equal(answer.status, 201, answer.body.toString());
    const receipt = answer.json<Receipt>();
    assert.equal(receipt.sha256, wav.digest());
    committed.push(receipt);
    await assertPlays(vault, sup, receipt.id, receipt);
  });

  test('database still down when the body has arrived: 503 database_unavailable, the stored object is deleted; after a restart the retry is 201', async () => {
    const size = 8 * MIB;
    const objectsBefore = await objectKeys(vault.deps.store);
    const pause = pauseOnce(2 * MIB, () => server.stop());
    const { res } = putStream('db-down-at-commit', size, 8, pause.hold);
    let answer;
    try {
      answer = await res;
    } finally {
      await pause.finished();
      await restartDatabase();
    }
    assertUnavailable('PUT', '/v1/recordings/db-down-at-commit', answer, 'database_unavailable');
    assert.deepEqual(await objectKeys(vault.deps.store), objectsBefore, 'no object outlives a failed commit');
    await waitReady(vault);
    assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === 'db-down-at-commit'), false);
    const retry = generatedWav(size, 8);
    const ok = await send(vault, {
      method: 'PUT', path: '/v1/recordings/db-down-at-commit', token: pbx, body: retry.stream,
      headers: { 'content-type': 'audio/wav', 'content-length': String(size) },
    });
    assert.equal(ok.status, 201, ok.body.toString());
    committed.push(ok.json<Receipt>());
  });

  test('every session terminated (idle ones, and during an upload): the next requests are served normally', async () => {
    let su: pg.Client | undefined;
    try {
      su = await superuser(db.superuserUrl);
      // Warm the pool, then cut every pooled connection while idle.
      const list = await send(vault, { path: '/v1/recordings', token: sup });
      assert.equal(list.status, 200);
      assert.ok(await terminateSessions(su) > 0);
      const body = await fixture('call-8k-mono.mp3');
      const idleCut = await put('after-idle-sessions-cut', body);
      assert.equal(idleCut.status, 201, idleCut.body.toString());
      committed.push(idleCut.json<Receipt>());

      const client = su;
      const pause = pauseOnce(4 * MIB, async () => { await terminateSessions(client); });
      const { wav, res } = putStream('sessions-cut-mid-upload', 12 * MIB, 12, pause.hold);
      const answer = await res;
      assert.equal(answer.status, 201, answer.body.toString());
      const receipt = answer.json<Receipt>();
      assert.equal(receipt.sha256, wav.digest());
      committed.push(receipt);
    } finally {
      await su?.end();
    }
  });

  test('no committed recording was lost: each plays byte for byte and no other row or object exists', async () => {
    const rows = await recordingRows(vault.deps.db);
    assert.deepEqual(rows.map((r) => r.id).sort(), committed.map((r) => r.id).sort());
    assert.deepEqual(await objectKeys(vault.deps.store), rows.map((r) => r.object_key).sort());
    for (const r of committed) await assertPlays(vault, sup, r.id, r);
    assert.equal(committed[0]!.sha256, sha256(await fixture('call-pcm16-8k-stereo.wav')));
  });
});
