import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { auditActor } from '../../src/audit/actor.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/http/logger.js';
import { claimDue, reclaimAbandoned } from '../../src/recordings/lifecycle-queries.js';
import { completeDeletions } from '../../src/retention/deletion.js';
import { mapLimit } from '../../src/lib/map-limit.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents } from './support.js';

/** Due recordings written straight into the store and the table: the workers are what is measured. */
async function seedDue(vault: TestVault, count: number, tag: string): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await mapLimit(ids, 32, (id) => vault.deps.store.put(`recordings/acme/${id}`, randomBytes(64)));
  const past = new Date(Date.now() - 60_000);
  for (let i = 0; i < ids.length; i += 500) {
    await vault.deps.db('recordings').insert(ids.slice(i, i + 500).map((id, j) => ({
      id, tenant: 'acme', call_id: `${tag}-${i + j}`, status: 'active', object_key: `recordings/acme/${id}`, sha256: 'a'.repeat(64),
      size_bytes: 64, content_type: 'audio/wav', segment_size: 65536, crypto_header: randomBytes(32), wrapped_key: randomBytes(61),
      key_ref: 'local:v1', policy: 'short', retain_until: past, tags: [tag],
    })));
  }
  return ids;
}

describe('concurrent retention workers', () => {
  let vault: TestVault;
  let second: Deps;
  before(async () => {
    vault = await startVault();
    second = await createDeps(vault.config, createLogger('silent'));
  });
  after(async () => {
    await second.close();
    await vault.close();
  });

  test('two workers over 2,000 due recordings delete each exactly once', async () => {
    const ids = await seedDue(vault, 2_000, 'pair');
    const now = new Date();
    const started = process.hrtime.bigint();
    const [a, b] = await Promise.all([
      runRetentionPass(vault.deps, now, { batchSize: 50, owner: 'worker-a' }),
      runRetentionPass(second, now, { batchSize: 50, owner: 'worker-b' }),
    ]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(`# two workers deleted 2000 recordings in ${seconds.toFixed(2)} s (${Math.round(2000 / seconds)}/s)\n`);
    assert.equal(a.failed + b.failed, 0);
    assert.equal(a.deleted + b.deleted, 2_000);
    assert.ok(a.deleted > 0 && b.deleted > 0, `both workers took part (${a.deleted} / ${b.deleted})`);
    assert.equal(new Set([...a.ids, ...b.ids]).size, 2_000, 'no recording deleted by both');

    const perRecording = new Map<string, number>();
    for (const e of await auditEvents(vault, { action: 'recording.deleted' })) {
      if (e.recording_id) perRecording.set(e.recording_id, (perRecording.get(e.recording_id) ?? 0) + 1);
    }
    assert.equal(perRecording.size, 2_000);
    for (const id of ids) assert.equal(perRecording.get(id), 1, `one recording.deleted for ${id}`);
    const left = await vault.deps.db('recordings').whereIn('id', ids).whereNot({ status: 'deleted' }).count<{ count: number }[]>('* as count').first();
    assert.equal(Number(left?.count), 0);
    const objects: string[] = [];
    for await (const o of vault.deps.store.list('recordings/acme/')) objects.push(o.key);
    assert.deepEqual(objects.filter((k) => ids.some((id) => k.endsWith(id))), []);
    assert.equal(Number(await vault.deps.metrics.retentionDeleted.get().then((m) => m.values[0]?.value ?? 0)), a.deleted);
  });

  test('a claim taken over after its lease ran out is tombstoned and audited by the new owner only', async () => {
    const [id] = await seedDue(vault, 1, 'lease');
    assert.ok(id);
    const slow = { owner: 'slow-worker', key: null };
    const fast = { owner: 'fast-worker', key: null };
    const claimed = await claimDue(vault.deps.db, slow, new Date(), 10, 60, 'system:retention');
    assert.deepEqual(claimed.map((c) => c.id), [id]);
    assert.deepEqual(await reclaimAbandoned(vault.deps.db, fast, 10, 60), [], 'a live lease is not taken');
    await vault.deps.db('recordings').where({ id }).update({ lease_until: vault.deps.db.raw(`now() - interval '1 second'`) });
    const taken = await reclaimAbandoned(vault.deps.db, fast, 10, 60);
    assert.deepEqual(taken.map((c) => c.id), [id]);
    const actor = auditActor('system:retention');
    const [late, current] = await Promise.all([
      completeDeletions(vault.deps, slow, claimed, { actor }),
      completeDeletions(vault.deps, fast, taken, { actor }),
    ]);
    assert.deepEqual(late.deleted, []);
    assert.deepEqual(late.lost, [id]);
    assert.deepEqual(current.deleted.map((d) => d.id), [id]);
    assert.equal((await auditEvents(vault, { action: 'recording.deleted', recordingId: id })).length, 1);
  });
});
