import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand, PutObjectCommand, PutObjectLegalHoldCommand } from '@aws-sdk/client-s3';
import type { Express } from 'express';
import supertest from 'supertest';
import type { Config } from '../../src/config/config.js';
import { createIngestService, type Deps } from '../../src/deps.js';
import { buildApp } from '../../src/app.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { FakeS3Client, s3Error } from '../storage/fake-s3-client.js';
import { later } from '../helpers/wait.js';
import { auditEvents, putPolicy, row } from '../retention/support.js';

const DAY = 86_400_000;
/** Midnight UTC yesterday: a start time inside every window these tests use (a closed one is refused). */
const YESTERDAY = Math.floor(Date.now() / DAY) * DAY - DAY;

/**
 * s3rver has no Object Lock, so these tests give the vault an S3ObjectStore over a recording
 * stand-in for the S3 client and check what the services ask the driver to do: every object is
 * written with retain-until = the recording's retainUntil, and legal holds reach the object. The
 * requests the driver makes of those are covered by test/storage/s3-store.test.ts.
 */
describe('S3 Object Lock pass-through', () => {
  let vault: TestVault;
  let fake: FakeS3Client;
  let app: Express;
  let deps: Deps;
  const wav = (): Promise<Buffer> => readFile(fixturePath('call-ulaw-8k-mono.wav'));

  before(async () => {
    vault = await startVault();
    fake = new FakeS3Client();
    const store = new S3ObjectStore({ client: fake.asClient(), bucket: 'vault', objectLockMode: 'COMPLIANCE' });
    const storage: Config['storage'] = {
      driver: 's3', bucket: 'vault', region: 'us-east-1', forcePathStyle: true, objectLockMode: 'COMPLIANCE',
      maxAttempts: 1, connectTimeoutMs: 1_000, requestTimeoutMs: 1_000,
    };
    deps = { ...vault.deps, store, config: { ...vault.config, storage }, ingest: createIngestService({ ...vault.deps, store }) };
    app = buildApp(deps);
    await putPolicy(vault, 'month', 'P30D');
    await putPolicy(vault, 'blink', 'PT1S');
  });
  after(async () => { await vault.close(); });

  const lockOf = (key: string) => {
    const put = fake.inputs(PutObjectCommand).find((p) => p.Key === key);
    assert.ok(put, `PutObject for ${key}`);
    return { mode: put.ObjectLockMode, until: put.ObjectLockRetainUntilDate };
  };

  test('PUT writes the object with retain-until = the retainUntil stored on the row', async () => {
    const startedAt = new Date(YESTERDAY + 10 * 3_600_000);
    const res = await supertest(app).put(`/v1/recordings/lock-put?policy=month&startedAt=${startedAt.toISOString()}`)
      .set('authorization', `Bearer ${await vault.token('pbx')}`).set('content-type', 'audio/wav').send(await wav());
    assert.equal(res.status, 201, res.text);
    const receipt = res.body as { id: string; retainUntil: string };
    assert.equal(receipt.retainUntil, new Date(startedAt.getTime() + 30 * DAY).toISOString());
    const stored = await row(vault, receipt.id);
    assert.deepEqual(lockOf(stored.object_key ?? ''), { mode: 'COMPLIANCE', until: new Date(receipt.retainUntil) });
    assert.equal(stored.retain_until?.toISOString(), receipt.retainUntil);
  });

  test('multipart: metadata before the file sets the lock; metadata after it never ends the row before the lock', async () => {
    const token = `Bearer ${await vault.token('pbx')}`;
    const early = await supertest(app).post('/v1/recordings').set('authorization', token)
      .field('callId', 'lock-early').field('policy', 'month').field('startedAt', new Date(YESTERDAY).toISOString())
      .attach('file', await wav(), 'call.wav');
    assert.equal(early.status, 201, early.text);
    assert.equal(early.body.retainUntil, new Date(YESTERDAY + 30 * DAY).toISOString());
    assert.deepEqual(lockOf((await row(vault, early.body.id as string)).object_key ?? '').until, new Date(YESTERDAY + 30 * DAY));

    const late = await supertest(app).post('/v1/recordings').set('authorization', token)
      .attach('file', await wav(), 'call.wav').field('callId', 'lock-late').field('policy', 'blink');
    assert.equal(late.status, 201, late.text);
    const lateRow = await row(vault, late.body.id as string);
    const lock = lockOf(lateRow.object_key ?? '');
    assert.ok(lock.until, 'written under the tenant default, the only policy known when the file arrived');
    assert.equal(lateRow.retain_until?.toISOString(), lock.until.toISOString(), 'the row keeps the later of policy and lock');
    assert.equal(late.body.policy, 'blink');
  });

  test('legal holds set and clear the S3 legal hold of the object, one by one and in bulk', async () => {
    const token = `Bearer ${await vault.token('pbx')}`;
    const compliance = `Bearer ${await vault.token('compliance')}`;
    const ids: string[] = [];
    for (const callId of ['lh-1', 'lh-2', 'lh-3']) {
      const res = await supertest(app).put(`/v1/recordings/${callId}?tags=matter-1`).set('authorization', token).set('content-type', 'audio/wav').send(await wav());
      ids.push(res.body.id as string);
    }
    const keys = await Promise.all(ids.map(async (id) => (await row(vault, id)).object_key));
    const holds = (): Array<[string | undefined, string | undefined]> => fake.inputs(PutObjectLegalHoldCommand).map((h) => [h.Key, h.LegalHold?.Status]);

    assert.equal((await supertest(app).put(`/v1/recordings/${ids[0]}/legal-hold`).set('authorization', compliance).send({ reason: 'claim' })).status, 200);
    assert.deepEqual(holds(), [[keys[0], 'ON']]);
    assert.equal((await supertest(app).delete(`/v1/recordings/${ids[0]}/legal-hold`).set('authorization', compliance)).status, 204);
    assert.deepEqual(holds().at(-1), [keys[0], 'OFF']);

    const bulk = await supertest(app).post('/v1/legal-holds').set('authorization', compliance).send({ reason: 'matter', caseId: 'M-1', filter: { tags: 'matter-1' } });
    assert.equal(bulk.status, 200, bulk.text);
    assert.deepEqual(bulk.body.objectLockFailed, []);
    assert.deepEqual(new Set(holds().slice(2).map((h) => h.join(' '))), new Set(keys.map((k) => `${k} ON`)));
  });

  test('erasure of a locked object crypto-shreds; retention retries instead', async () => {
    const token = `Bearer ${await vault.token('pbx')}`;
    const erased = await supertest(app).put('/v1/recordings/locked-erase').set('authorization', token).set('content-type', 'audio/wav').send(await wav());
    const expiring = await supertest(app).put('/v1/recordings/locked-expire?policy=blink').set('authorization', token).set('content-type', 'audio/wav').send(await wav());
    fake.on(DeleteObjectCommand, () => { throw s3Error('AccessDenied', 403); });

    const res = await supertest(app).delete(`/v1/recordings/${erased.body.id}`).set('authorization', `Bearer ${await vault.token('compliance')}`).send({ reason: 'DSAR' });
    assert.equal(res.status, 204, res.text);
    const tomb = await row(vault, erased.body.id as string);
    assert.equal(tomb.status, 'deleted');
    assert.equal(tomb.wrapped_key, null, 'the data key is destroyed: the locked ciphertext is unreadable');
    const [event] = await auditEvents(vault, { action: 'recording.deleted', recordingId: erased.body.id as string });
    assert.equal(event?.details.objectDeleted, false);

    const pass = await runRetentionPass(deps, later(expiring.body.retainUntil as string));
    assert.equal(pass.failed, 1);
    assert.equal((await row(vault, expiring.body.id as string)).status, 'deleting', 'retention waits for the lock rather than shredding');
  });
});
