import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createDb, type Db } from '../../src/db/knex.js';
import { clearHold, lockHoldState, releaseCaseHolds, setHold } from '../../src/recordings/hold-queries.js';
import { replaceWrappedKey } from '../../src/recordings/key-queries.js';
import { claimForErasure, destroyKeys, stillClaimed, tombstone } from '../../src/recordings/lifecycle-queries.js';
import { RECORDING_STATUS } from '../../src/recordings/status.js';
import { RecordingStore, type NewRecording } from '../../src/recordings/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/cluster.js';

/** Every update of the recordings table names the tenant: another tenant's id changes nothing. */
function newRecording(tenant: string): NewRecording {
  return {
    id: randomUUID(), tenant, callId: `call-${randomUUID()}`, objectKey: `recordings/${tenant}/x`, sha256: 'a'.repeat(64),
    sizeBytes: 64, contentType: 'audio/wav', segmentSize: 65536, cryptoHeader: randomBytes(32), wrappedKey: randomBytes(61),
    keyRef: 'local:v1', policy: 'short', retainUntil: new Date(Date.now() + 86_400_000), startedAt: null, durationSeconds: null,
    direction: null, from: null, to: null, fromHash: null, toHash: null, agentId: null, tags: [], uploadedBy: 'pbx',
  };
}

describe('recordings updates are scoped by tenant', () => {
  let database: TestDatabase;
  let db: Db;
  let store: RecordingStore;
  before(async () => {
    database = await createTestDatabase();
    db = createDb({ url: database.url });
    store = new RecordingStore(db);
  });
  after(async () => {
    await db.destroy();
    await database.drop();
  });

  async function seeded(): Promise<NewRecording> {
    const r = newRecording('acme');
    assert.ok(await store.insert(r));
    return r;
  }

  test('setting and clearing a hold with the wrong tenant changes nothing', async () => {
    const r = await seeded();
    await db.transaction(async (trx) => {
      assert.equal(await setHold(trx, 'globex', r.id, { reason: 'x', caseId: 'C-1', by: 'mallory' }), undefined);
      assert.equal(await lockHoldState(trx, 'globex', r.id), undefined);
    });
    assert.equal((await store.findAny('acme', r.id))?.legalHold, false);
    await db.transaction((trx) => setHold(trx, 'acme', r.id, { reason: 'lawsuit', caseId: 'C-1', by: 'alice' }));
    await db.transaction(async (trx) => {
      assert.equal(await clearHold(trx, 'globex', r.id), false);
      assert.deepEqual(await releaseCaseHolds(trx, 'globex', 'C-1'), []);
    });
    const held = await store.findAny('acme', r.id);
    assert.equal(held?.legalHold, true);
    assert.equal(held?.legalHoldCaseId, 'C-1');
  });

  test('a rewrapped key written under the wrong tenant is refused', async () => {
    const r = await seeded();
    const next = { wrapped: randomBytes(61), keyRef: 'local:v2' };
    assert.equal(await replaceWrappedKey(db, 'globex', r.id, r.wrappedKey, next), false);
    assert.deepEqual((await store.findAny('acme', r.id))?.wrappedKey, r.wrappedKey);
    assert.equal(await replaceWrappedKey(db, 'acme', r.id, r.wrappedKey, next), true);
    assert.equal((await store.findAny('acme', r.id))?.keyRef, 'local:v2');
  });

  test('deletion steps naming the wrong tenant neither destroy the key nor tombstone the row', async () => {
    const r = await seeded();
    const who = { owner: 'test-worker', key: null };
    const claimed = await db.transaction((trx) => claimForErasure(trx, who, 'acme', [r.id], 60, { note: null, by: 'alice' }));
    assert.equal(claimed.length, 1);
    const forged = [{ tenant: 'globex', id: r.id }];
    assert.deepEqual([...await stillClaimed(db, who, forged)], []);
    await destroyKeys(db, who, forged);
    assert.deepEqual([...await db.transaction((trx) => tombstone(trx, who, forged, 'mallory'))], []);
    const row = await store.findAny('acme', r.id);
    assert.equal(row?.status, RECORDING_STATUS.deleting);
    assert.deepEqual(row?.wrappedKey, r.wrappedKey);
    assert.deepEqual([...await stillClaimed(db, who, claimed)], [r.id]);
  });
});
