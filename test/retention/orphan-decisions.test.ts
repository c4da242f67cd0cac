import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { createFakeRetentionDeps } from './fakes.js';

/** Which stored objects the orphan sweep deletes, over in-memory doubles (test/retention/fakes.ts). */
const NOW = new Date('2026-06-01T12:00:00Z');
const GRACE = 60_000;

test('only old objects that no row refers to and no live upload writes are deleted, each audited', async () => {
  const f = createFakeRetentionDeps();
  const object = (id: string, ageMs: number, tenant = 'acme') => {
    const key = `recordings/${tenant}/${id}`;
    f.store.objects.set(key, { key, sizeBytes: 10, lastModified: new Date(NOW.getTime() - ageMs) });
    return key;
  };
  const referenced = f.recordings.add({ retainUntil: null });
  object(referenced.id, 2 * GRACE);
  const orphan = object(randomUUID(), 2 * GRACE);
  const young = object(randomUUID(), GRACE / 2);
  const uploading = object(randomUUID(), 2 * GRACE);
  f.uploading.add(uploading);
  const notRecording = object('not-a-uuid', 2 * GRACE);
  const tombstoned = f.recordings.add({ retainUntil: null, status: 'deleted' });
  const leftover = object(tombstoned.id, 2 * GRACE);

  const dry = await runOrphanSweep(f.deps, NOW, { graceMs: GRACE, dryRun: true });
  assert.deepEqual(new Set(dry.keys), new Set([orphan, leftover]));
  assert.equal(f.store.objects.size, 6, 'a dry run deletes nothing');

  const sweep = await runOrphanSweep(f.deps, NOW, { graceMs: GRACE });
  assert.deepEqual(new Set(sweep.keys), new Set([orphan, leftover]));
  assert.equal(sweep.failed, 0);
  assert.deepEqual([...f.store.objects.keys()].sort(), [referenced.objectKey, young, uploading, notRecording].sort());
  assert.deepEqual(new Set(f.events.map((e) => `${e.action} ${e.recordingId ?? ''}`)),
    new Set([orphan, leftover].map((k) => `orphan.deleted ${k.split('/')[2] ?? ''}`)));
});

test('an orphan whose delete fails is counted, not audited, and the next sweep retries it', async () => {
  const f = createFakeRetentionDeps();
  const key = `recordings/acme/${randomUUID()}`;
  f.store.objects.set(key, { key, sizeBytes: 10, lastModified: new Date(NOW.getTime() - 2 * GRACE) });
  f.store.failing.add(key);
  const first = await runOrphanSweep(f.deps, NOW, { graceMs: GRACE });
  assert.equal(first.failed, 1);
  assert.equal(first.deleted, 0);
  assert.equal(f.events.length, 0);
  f.store.failing.clear();
  const second = await runOrphanSweep(f.deps, NOW, { graceMs: GRACE });
  assert.deepEqual(second.keys, [key]);
  assert.equal(f.events.length, 1);
});
