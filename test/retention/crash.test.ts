import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { verifyTable } from '../../src/audit/verify.js';
import { advisoryLockKey } from '../../src/db/locks.js';
import type { TestVault } from '../helpers/vault.js';
import { auditEvents, auditLogLock, makeDue, openShortPolicyVault, row, runCli, type ShortPolicyVault, someoneAwaitsAdvisoryLock, spawnCli, upload, waitFor } from './support.js';

/**
 * A worker SIGKILLed after it deleted a batch's objects and destroyed their keys, but before the
 * batch's tombstone transaction committed. No hook in the worker: the test takes the audit chain lock, which the
 * tombstone transaction needs for its recording.deleted event and nothing earlier needs, so the
 * worker stops exactly there; the test watches it arrive, kills it, and runs the worker again.
 */
describe('a retention worker killed before its tombstone commit', () => {
  let opened: ShortPolicyVault;
  let vault: TestVault;
  let su: pg.Client;
  before(async () => { opened = await openShortPolicyVault(); ({ vault, su } = opened); });
  after(() => opened.close());

  test('is finished cleanly by the next run, with exactly one recording.deleted each', async () => {
    const batch = await Promise.all(['crash-1', 'crash-2', 'crash-3'].map((callId) => upload(vault, callId, { query: { policy: 'short' } })));
    const objectKeys = await Promise.all(batch.map(async (r) => (await row(vault, r.id)).object_key ?? ''));
    await makeDue(vault, ...batch.map((r) => r.id));

    const auditLock = await auditLogLock(vault);
    await su.query(auditLock.take);
    const worker = spawnCli(vault, ['retention', 'run', '--once']);
    let released = false;
    try {
      await waitFor('the worker to block in its tombstone transaction', async () => {
        for (const [i, r] of batch.entries()) {
          const current = await row(vault, r.id);
          if (current.status !== 'deleting' || current.wrapped_key !== null) return false;
          if ((await vault.deps.store.head(objectKeys[i] ?? '')) !== null) return false;
        }
        return someoneAwaitsAdvisoryLock(su);
      });
      for (const r of batch) assert.equal((await row(vault, r.id)).status, 'deleting', 'no tombstone has committed');
      worker.child.kill('SIGKILL');
      const killed = await worker.done;
      assert.equal(killed.signal, 'SIGKILL');
    } finally {
      await su.query(auditLock.release);
      released = true;
    }
    assert.ok(released);

    // The killed worker's backends notice their client is gone and roll back; wait until they have.
    await waitFor('the dead worker\'s sessions to end', async () => {
      const locks = await su.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid`, [advisoryLockKey('retention.liveness')]);
      if ((locks.rowCount ?? 0) > 0) return false;
      await su.query('BEGIN');
      try {
        await su.query('SELECT id FROM recordings WHERE id = ANY($1::uuid[]) FOR UPDATE NOWAIT', [batch.map((r) => r.id)]);
        return true;
      } catch {
        return false;
      } finally {
        await su.query('ROLLBACK');
      }
    });
    for (const r of batch) assert.equal((await row(vault, r.id)).status, 'deleting');
    assert.deepEqual(await auditEvents(vault, { action: 'recording.deleted' }), [], 'the killed transaction wrote nothing');

    const rerun = await runCli(vault, ['retention', 'run', '--once']);
    assert.equal(rerun.code, 0, rerun.stderr);
    for (const [i, r] of batch.entries()) {
      assert.match(rerun.stdout, new RegExp(`deleted\\t${r.id}\\t${r.callId}`));
      const tomb = await row(vault, r.id);
      assert.equal(tomb.status, 'deleted');
      assert.equal(tomb.wrapped_key, null);
      assert.equal(tomb.lease_owner, null);
      assert.equal(await vault.deps.store.head(objectKeys[i] ?? ''), null);
      const events = await auditEvents(vault, { action: 'recording.deleted', recordingId: r.id });
      assert.equal(events.length, 1);
      assert.equal(events[0]?.actor_sub, 'system:retention');
    }
    const verified = await verifyTable(vault.deps.db, undefined);
    assert.ok(verified.ok, verified.reason);
  });
});
