import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { request } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { ageStoredFiles, auditEvents, killedInCommit, killedTransactionsRolledBack, runCli, superuser, upload } from './support.js';
import { objectKeys } from '../faults/support.js';


/**
 * An upload killed between storing its object and committing its row: a `serve` child process
 * stores the object, then blocks committing (the test holds the audit chain lock that the
 * commit's recording.uploaded event needs) and is SIGKILLed there.
 */
describe('orphan sweep', () => {
  let vault: TestVault;
  let su: pg.Client;
  before(async () => {
    vault = await startVault();
    su = await superuser(vault);
  });
  after(async () => {
    await su.end();
    await vault.close();
  });

  test('finds the object of an upload killed before its commit and deletes it after the grace period', async () => {
    const committed = await upload(vault, 'committed-1');
    const before = await objectKeys(vault.deps.store);
    const pbx = await vault.token('pbx');
    const body = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
    const orphanKey = await killedInCommit(vault, su, (server) => request(server, {
      method: 'PUT', path: '/v1/recordings/dies-mid-upload', token: pbx, body, headers: { 'content-type': 'audio/wav' },
    }), 'the upload to store its object and block on its commit');
    const orphanId = orphanKey.split('/').pop();
    await killedTransactionsRolledBack(su, 'the killed upload\'s transaction to roll back');
    assert.equal(await vault.deps.db('recordings').where({ id: orphanId }).first(), undefined, 'no row was committed');
    assert.equal(await vault.deps.db('recordings').where({ call_id: 'dies-mid-upload' }).first(), undefined);
    assert.ok(await vault.deps.store.head(orphanKey), 'the object was left behind');

    const registered = await su.query(`SELECT 1 FROM uploads_in_progress WHERE object_key = $1 AND lease_until > now()`, [orphanKey]);
    assert.equal(registered.rowCount, 1, 'the upload is still registered, its lease running; its process, though, is dead');
    const young = await runOrphanSweep(vault.deps, new Date(), { graceMs: 60_000 });
    assert.equal(young.deleted, 0, 'nothing inside the grace period is touched');
    assert.ok(await vault.deps.store.head(orphanKey));

    await ageStoredFiles(vault, 'recordings', 3_600_000);
    const shortGrace = { ORPHAN_GRACE: 'PT2S', HTTP_REQUEST_TIMEOUT_MS: '500' };
    const dry = await runCli(vault, ['retention', 'run', '--once', '--dry-run'], shortGrace);
    assert.match(dry.stdout, new RegExp(`^orphan\\t${orphanKey}$`, 'm'));
    assert.ok(await vault.deps.store.head(orphanKey), 'a dry run deletes nothing');
    const run = await runCli(vault, ['retention', 'run', '--once'], shortGrace);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`deleted orphan\\t${orphanKey}`));
    assert.equal(await vault.deps.store.head(orphanKey), null);
    assert.deepEqual(await objectKeys(vault.deps.store), before, 'the committed recording\'s object is kept');
    assert.equal((await vault.deps.db('recordings').where({ id: committed.id }).first<{ status: string }>())?.status, 'active');
    const events = await auditEvents(vault, { action: 'orphan.deleted' });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.recording_id, orphanId);
    assert.equal(events[0]?.details.objectKey, orphanKey);
    assert.equal(events[0]?.actor_sub, 'system:retention');
    assert.equal((await su.query('SELECT 1 FROM uploads_in_progress')).rowCount, 0, 'the dead registration is forgotten');
  });
});
