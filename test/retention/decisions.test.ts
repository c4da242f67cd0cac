import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditActor } from '../../src/audit/actor.js';
import { dataKeyCacheKey } from '../../src/keys/cache.js';
import { RECORDING_STATUS } from '../../src/recordings/status.js';
import { completeDeletions } from '../../src/retention/deletion.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import { createFakeRetentionDeps } from './fakes.js';

/** Retention decisions over in-memory doubles (test/retention/fakes.ts); the real-server suites sit beside this file. */
const NOW = new Date('2026-06-01T12:00:00Z');
const before = (ms: number) => new Date(NOW.getTime() - ms);

describe('retention decisions', () => {
  test('only active recordings whose retainUntil has passed are deleted', async () => {
    const f = createFakeRetentionDeps();
    const due = [f.recordings.add({ retainUntil: before(1000) }), f.recordings.add({ retainUntil: NOW })];
    const future = f.recordings.add({ retainUntil: new Date(NOW.getTime() + 1) });
    const tombstone = f.recordings.add({ retainUntil: before(5000), status: RECORDING_STATUS.deleted });
    const pass = await runRetentionPass(f.deps, NOW);
    assert.deepEqual(new Set(pass.ids), new Set(due.map((r) => r.id)));
    assert.equal(pass.deleted, 2);
    assert.equal(pass.failed, 0);
    assert.equal(future.status, RECORDING_STATUS.active);
    assert.ok(!f.log.some((l) => l.includes(tombstone.id)), 'a tombstone is left alone');
    assert.deepEqual(f.events.map((e) => [e.action, e.recordingId, e.actorSub, (e.details as { reason: string }).reason]).sort(),
      due.map((r) => ['recording.deleted', r.id, 'system:retention', 'retention']).sort());
  });

  test('held recordings are skipped and counted, never claimed', async () => {
    const f = createFakeRetentionDeps();
    const held = f.recordings.add({ retainUntil: before(60_000), legalHold: true });
    const free = f.recordings.add({ retainUntil: before(60_000) });
    const pass = await runRetentionPass(f.deps, NOW);
    assert.deepEqual(pass.ids, [free.id]);
    assert.equal(pass.skippedHold, 1);
    assert.equal(held.status, RECORDING_STATUS.active);
    assert.ok(held.wrappedKey !== null, 'the held recording keeps its key');
    assert.ok(!f.log.some((l) => l.includes(held.id)));
  });

  test('a dry run lists what is due and changes nothing', async () => {
    const f = createFakeRetentionDeps();
    const due = f.recordings.add({ retainUntil: before(1000) });
    const pass = await runRetentionPass(f.deps, NOW, { dryRun: true });
    assert.deepEqual(pass.ids, [due.id]);
    assert.equal(due.status, RECORDING_STATUS.active);
    assert.deepEqual(f.log, []);
  });

  test('steps run in order: peaks and object, then key, then tombstone with its event', async () => {
    const f = createFakeRetentionDeps();
    const r = f.recordings.add({ retainUntil: before(1000) });
    const objectKey = r.objectKey ?? '';
    await runRetentionPass(f.deps, NOW);
    assert.deepEqual(f.log, [
      `delete-object peaks/${r.tenant}/${r.id}`, `delete-object ${objectKey}`, `destroy-key ${r.id}`, `tombstone ${r.id}`, `audit recording.deleted ${r.id}`,
    ]);
    assert.equal(f.wiped.length, 1, 'the cached unwrapped key is dropped with the wrapped one');
  });

  test('a failed object delete keeps the key and the row; the next pass finishes it', async () => {
    const f = createFakeRetentionDeps();
    const r = f.recordings.add({ retainUntil: before(1000) });
    const objectKey = r.objectKey ?? '';
    f.store.failing.add(objectKey);
    const first = await runRetentionPass(f.deps, NOW);
    assert.equal(first.deleted, 0);
    assert.equal(first.failed, 1);
    assert.equal(r.status, RECORDING_STATUS.deleting);
    assert.ok(r.wrappedKey !== null, 'the key survives until the object is gone');
    assert.equal(f.events.length, 0);
    f.store.failing.clear();
    const second = await runRetentionPass(f.deps, NOW);
    assert.deepEqual(second.ids, [r.id]);
    assert.equal(r.status, RECORDING_STATUS.deleted);
    assert.equal(f.events.length, 1);
  });

  test('a claim taken over by another owner is not tombstoned by the one that lost it', async () => {
    let clock = NOW.getTime();
    const f = createFakeRetentionDeps({ clock: () => clock });
    const r = f.recordings.add({ retainUntil: before(1000) });
    const slow = { owner: 'slow', key: null };
    const claimed = await f.recordings.claimDue(slow, NOW, 10, 60, 'system:retention');
    clock += 61_000;
    const taken = await f.recordings.reclaimAbandoned({ owner: 'fast', key: null }, 10, 60);
    assert.deepEqual(taken.map((c) => c.id), [r.id]);
    const outcome = await completeDeletions(f.deps, slow, claimed, { actor: auditActor('system:retention') });
    assert.deepEqual(outcome.lost, [r.id]);
    assert.deepEqual(outcome.deleted, []);
    assert.equal(r.status, RECORDING_STATUS.deleting);
    assert.equal(f.events.length, 0);
  });

  test('batches continue until nothing due is left', async () => {
    const f = createFakeRetentionDeps();
    const rows = Array.from({ length: 5 }, (_, i) => f.recordings.add({ retainUntil: before(1000 * (i + 1)) }));
    const pass = await runRetentionPass(f.deps, NOW, { batchSize: 2 });
    assert.equal(pass.deleted, 5);
    assert.deepEqual(pass.ids, [...rows].reverse().map((r) => r.id), 'oldest retainUntil first');
  });

  test('a batch deletes its objects concurrently; a failed delete holds back only its own row', async () => {
    const f = createFakeRetentionDeps();
    const rows = Array.from({ length: 6 }, (_, i) => f.recordings.add({ retainUntil: before(1000 * (i + 1)) }));
    const [bad, ...good] = rows as [typeof rows[0], ...typeof rows];
    f.store.failing.add(bad.objectKey ?? '');
    const cacheKeys = good.map((r) => dataKeyCacheKey({ tenant: r.tenant, recordingId: r.id }, r.keyRef ?? '', r.wrappedKey ?? Buffer.alloc(0)));
    const first = await runRetentionPass(f.deps, NOW, { batchSize: 10, concurrency: 4 });
    assert.equal(f.store.concurrency.maxInFlight, 4, 'four object deletes at a time');
    assert.deepEqual(new Set(first.ids), new Set(good.map((r) => r.id)));
    assert.equal(first.failed, 1);
    assert.deepEqual(f.auditCalls.map((ids) => new Set(ids)), [new Set(good.map((r) => r.id))], 'one audit append for the batch');
    const tombstones = f.log.filter((l) => l.startsWith('tombstone ') || l.startsWith('audit '));
    assert.deepEqual(tombstones.slice(0, good.length).map((l) => l.split(' ')[0]), good.map(() => 'tombstone'), 'every tombstone of the batch before its events');
    assert.equal(bad.status, RECORDING_STATUS.deleting);
    assert.ok(bad.wrappedKey !== null, 'the failed row keeps its key');
    assert.ok(!f.events.some((e) => e.recordingId === bad.id));
    assert.deepEqual(new Set(f.wiped), new Set(cacheKeys), 'the cached keys of the deleted ones are dropped, and only theirs');

    f.store.failing.clear();
    const second = await runRetentionPass(f.deps, NOW, { batchSize: 10 });
    assert.deepEqual(second.ids, [bad.id]);
    assert.equal(bad.status, RECORDING_STATUS.deleted);
    assert.deepEqual(f.events.map((e) => e.recordingId).sort(), rows.map((r) => r.id).sort(), 'each recording audited exactly once');
  });
});
