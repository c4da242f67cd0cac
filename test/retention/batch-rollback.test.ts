import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { verifyTable } from '../../src/audit/verify.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import type { TestVault } from '../helpers/vault.js';
import { later } from '../helpers/wait.js';
import { auditEvents, openShortPolicyVault, row, upload, type ShortPolicyVault } from './support.js';

/**
 * A batch whose tombstone transaction fails after its objects are gone and its keys destroyed.
 * PostgreSQL itself refuses the batch's recording.deleted events (a trigger the test installs
 * as an outside actor), so the transaction that tombstones the batch rolls back as a whole.
 */
describe('a retention batch whose tombstone transaction fails', () => {
  let opened: ShortPolicyVault;
  let vault: TestVault;
  let su: pg.Client;
  before(async () => { opened = await openShortPolicyVault(); ({ vault, su } = opened); });
  after(async () => {
    await su.query('DROP TRIGGER IF EXISTS refuse_deleted ON audit_events; DROP FUNCTION IF EXISTS refuse_deleted()');
    await opened.close();
  });

  test('tombstones and audits nothing of the batch; the next pass finishes each recording once', async () => {
    const receipts = await Promise.all(['batch-a', 'batch-b', 'batch-c'].map((callId) => upload(vault, callId, { query: { policy: 'short' } })));
    const ids = receipts.map((r) => r.id);
    const objectKeys = await Promise.all(ids.map(async (id) => (await row(vault, id)).object_key ?? ''));
    const due = later(receipts.map((r) => r.retainUntil).sort().at(-1) ?? '');
    await su.query(`
      CREATE FUNCTION refuse_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
      CREATE TRIGGER refuse_deleted BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'recording.deleted') EXECUTE FUNCTION refuse_deleted();`);

    await assert.rejects(runRetentionPass(vault.deps, due, { batchSize: 10 }));
    for (const [i, id] of ids.entries()) {
      const stuck = await row(vault, id);
      assert.equal(stuck.status, 'deleting', 'no tombstone of the batch committed');
      assert.equal(stuck.wrapped_key, null, 'the key was destroyed before the tombstone');
      assert.equal(await vault.deps.store.head(objectKeys[i] ?? ''), null);
    }
    assert.deepEqual(await auditEvents(vault, { action: 'recording.deleted' }), []);

    await su.query('DROP TRIGGER refuse_deleted ON audit_events; DROP FUNCTION refuse_deleted()');
    const rerun = await runRetentionPass(vault.deps, due, { batchSize: 10 });
    assert.deepEqual(new Set(rerun.ids), new Set(ids));
    assert.equal(rerun.failed, 0);
    for (const id of ids) {
      const tomb = await row(vault, id);
      assert.equal(tomb.status, 'deleted');
      assert.equal(tomb.lease_owner, null);
    }
    const events = await auditEvents(vault, { action: 'recording.deleted' });
    assert.deepEqual(events.map((e) => e.recording_id).sort(), [...ids].sort(), 'one recording.deleted per recording');
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_s, i) => (seqs[0] ?? 0) + i), 'the batch\'s events are appended together');
    const verified = await verifyTable(vault.deps.db, undefined);
    assert.ok(verified.ok, verified.reason);
  });
});
