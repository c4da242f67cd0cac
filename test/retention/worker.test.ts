import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startWorkers } from '../../src/cli/workers.js';
import { DependencyError } from '../../src/errors.js';
import { retentionWorkers } from '../../src/retention/schedule.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { withImmutableDir } from '../helpers/immutable.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { later } from '../helpers/wait.js';
import { auditEvents, json, putPolicy, row, upload, waitFor } from './support.js';

async function metric(vault: TestVault, name: 'retentionDeleted' | 'retentionFailed' | 'retentionSkippedHold' | 'retentionLag'): Promise<number> {
  return (await vault.deps.metrics[name].get()).values[0]?.value ?? 0;
}

describe('runRetentionPass', () => {
  let vault: TestVault;
  before(async () => {
    vault = await startVault();
    await putPolicy(vault, 'short', 'PT1S');
  });
  after(async () => { await vault.close(); });

  test('a failed object delete leaves the row deleting; the next pass finishes it', async () => {
    const a = await upload(vault, 'fail-a', { query: { policy: 'short' } });
    const b = await upload(vault, 'fail-b', { query: { policy: 'short' } });
    const held = await upload(vault, 'fail-held', { query: { policy: 'short' } });
    await json(vault, 'PUT', `/v1/recordings/${held.id}/legal-hold`, await vault.token('compliance'), { reason: 'audit' });
    const due = later(held.retainUntil);
    const badKey = (await row(vault, a.id)).object_key;
    const flaky: ObjectStore = Object.create(vault.deps.store) as ObjectStore;
    flaky.delete = async (key: string) => {
      if (key === badKey) throw new DependencyError('storage', 'simulated outage');
      return vault.deps.store.delete(key);
    };
    const dry = await runRetentionPass(vault.deps, due, { dryRun: true });
    assert.deepEqual(new Set(dry.ids), new Set([a.id, b.id]));
    assert.equal(dry.skippedHold, 1);

    const first = await runRetentionPass({ ...vault.deps, store: flaky }, due);
    assert.deepEqual(first.ids, [b.id]);
    assert.equal(first.failed, 1);
    assert.equal(first.skippedHold, 1);
    assert.ok(first.lagSeconds > 0, 'the failed recording is still overdue');
    assert.equal((await row(vault, a.id)).status, 'deleting');
    assert.ok((await row(vault, a.id)).wrapped_key, 'the key is destroyed only after the object is gone');
    assert.equal(await metric(vault, 'retentionFailed'), 1);
    assert.equal(await metric(vault, 'retentionDeleted'), 1);
    assert.equal(await metric(vault, 'retentionSkippedHold'), 1);
    assert.ok(await metric(vault, 'retentionLag') > 0);

    const second = await runRetentionPass(vault.deps, due);
    assert.deepEqual(second.ids, [a.id], 'the abandoned claim is taken over at once: its owner has finished');
    assert.equal(second.lagSeconds, 0);
    assert.equal(await metric(vault, 'retentionLag'), 0);
    assert.equal((await row(vault, a.id)).status, 'deleted');
    assert.equal((await auditEvents(vault, { action: 'recording.deleted', recordingId: a.id })).length, 1);
    assert.equal((await row(vault, held.id)).status, 'active');
  });

  test('an object the filesystem refuses to delete is not tombstoned; the next pass deletes it', async () => {
    await putPolicy(vault, 'short', 'PT1S', 'globex');
    const r = await upload(vault, 'refused-delete', { query: { policy: 'short' }, tenant: 'globex' });
    const objectKey = (await row(vault, r.id)).object_key;
    assert.ok(objectKey);
    const due = later(r.retainUntil);
    const first = await withImmutableDir(path.join(vault.dataDir, 'objects', 'recordings', 'globex'), () => runRetentionPass(vault.deps, due));
    assert.ok(!first.ids.includes(r.id));
    assert.equal(first.failed, 1);
    assert.equal((await row(vault, r.id)).status, 'deleting', 'left for the next pass, not tombstoned');
    assert.ok((await row(vault, r.id)).wrapped_key, 'the key is kept while the object is');
    assert.ok(await vault.deps.store.head(objectKey), 'the bytes are still there');
    assert.deepEqual(await auditEvents(vault, { action: 'recording.deleted', recordingId: r.id }), []);

    const second = await runRetentionPass(vault.deps, due);
    assert.deepEqual(second.ids, [r.id]);
    assert.equal(await vault.deps.store.head(objectKey), null);
    const events = await auditEvents(vault, { action: 'recording.deleted', recordingId: r.id });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.details.objectDeleted, true);
  });

  test('a recording put on hold before the pass is never claimed, even when overdue', async () => {
    const r = await upload(vault, 'late-hold', { query: { policy: 'short' } });
    const due = later(r.retainUntil);
    const hold = await json(vault, 'PUT', `/v1/recordings/${r.id}/legal-hold`, await vault.token('compliance'), { reason: 'subpoena' });
    assert.equal(hold.status, 200);
    const pass = await runRetentionPass(vault.deps, due);
    assert.ok(!pass.ids.includes(r.id));
    const cleared = await json(vault, 'DELETE', `/v1/recordings/${r.id}/legal-hold`, await vault.token('compliance'));
    assert.equal(cleared.status, 204);
    const after = await runRetentionPass(vault.deps, due);
    assert.ok(after.ids.includes(r.id), 'once released, an overdue recording goes at the next pass');
  });
});

describe('the retention loop inside serve', () => {
  let vault: TestVault;
  before(async () => {
    vault = await startVault({ env: { RETENTION_INTERVAL: 'PT1S' } });
    await putPolicy(vault, 'short', 'PT1S');
  });
  after(async () => { await vault.close(); });

  test('runs every RETENTION_INTERVAL and stops with the server; off starts nothing', async () => {
    assert.deepEqual(retentionWorkers({ ...vault.deps, config: { ...vault.config, retention: { ...vault.config.retention, interval: 'off' } } }), []);
    const r = await upload(vault, 'loop-1', { query: { policy: 'short' } });
    const workers = startWorkers(vault.deps);
    try {
      await waitFor('the loop to delete the recording', async () => (await row(vault, r.id)).status === 'deleted');
    } finally {
      await workers.stop();
    }
    assert.equal((await auditEvents(vault, { action: 'recording.deleted', recordingId: r.id })).length, 1);
  });
});
