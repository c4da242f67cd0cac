import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { prepareEvent } from '../../src/audit/chain.js';
import { AUDIT_LOG_LOCK_CLASS, appendBatchToLog, appendToLog, type LogHead } from '../../src/audit/log-append.js';
import { appendAtKnownHead } from '../../src/audit/log-append-known.js';
import { logSize, recomputeLog } from '../../src/audit/log-check.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry, closeEpoch, type AuditLogRef } from '../../src/audit/logs.js';
import { rootHash } from '../../src/audit/merkle.js';
import { PgSubtreeStore } from '../../src/audit/subtrees.js';
import { DependencyError } from '../../src/errors.js';
import { auditFixture, event, NAMESPACE, sql, type AuditFixture } from './support.js';

const copy = (head: LogHead): LogHead => ({ size: head.size, hash: head.hash, frontier: new Map(head.frontier) });
const prepared = (n: number, recordingId: string | null = null): ReturnType<typeof prepareEvent> =>
  prepareEvent(event(n, { tenant: 'known', recordingId }), new Date());

/** The log is gapless, chained, its stored tree has the recomputed root, and recordingPrev links hold. */
async function assertWhole(f: AuditFixture, log: AuditLogRef): Promise<number> {
  const size = await logSize(f.db, log.logId);
  const state = (await recomputeLog(f.db, log, size)).get(size);
  assert.ok(state, 'the log recomputes from its events');
  assert.deepEqual(await rootHash(new PgSubtreeStore(f.db, log.logId), size), state.rootHash);
  const rows = await sql<{ log_seq: string; recording_id: string | null; recording_prev: string | null }>(f.tdb.superuserUrl,
    'SELECT log_seq, recording_id, recording_prev FROM audit_events WHERE log_id = $1 ORDER BY log_seq', [log.logId]);
  const last = new Map<string, string>();
  rows.forEach((r, i) => {
    assert.equal(Number(r.log_seq), i + 1, 'numbering has no gaps');
    assert.equal(r.recording_prev, r.recording_id === null ? null : last.get(r.recording_id) ?? null, `recordingPrev of ${r.log_seq}`);
    if (r.recording_id !== null) last.set(r.recording_id, r.log_seq);
  });
  return size;
}

describe('appending where the writer knows the log ends', () => {
  let f: AuditFixture;
  let log: AuditLogRef;
  let head: LogHead;
  before(async () => {
    f = await auditFixture();
    await closeEpoch(f.db);
    log = await new AuditLogRegistry(f.db, NAMESPACE).resolve('known');
    head = (await appendBatchToLog(f.db, log, [prepared(1, 'rec-a')], 1000)).head!;
  });
  after(() => f.close());

  test('writes at the known head, and writes nothing once the log moved on or a recording was assumed wrongly', async () => {
    const stale = copy(head);
    const appended = await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-a', 1]]), [prepared(2, 'rec-a'), prepared(3, 'rec-b')], 1000);
    assert.ok(appended?.head);
    assert.deepEqual(appended.events.map((e) => [e.logSeq, e.recordingPrev]), [[2, 1], [3, null]]);
    head = appended.head;

    assert.equal(await appendAtKnownHead(f.db, log, stale, new Map(), [prepared(4)], 1000), null, 'a head another writer moved past');
    assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(5, 'rec-a')], 1000), null, 'rec-a assumed to have no event');
    assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-b', 2]]), [prepared(6, 'rec-b')], 1000), null, 'rec-b assumed at 2');
    assert.equal(await assertWhole(f, log), 3, 'the refused appends wrote neither events nor subtrees');

    const single = await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-b', 3]]), [prepared(7, 'rec-b')], 1000);
    assert.deepEqual(single?.events.map((e) => [e.logSeq, e.recordingPrev]), [[4, 3]]);
    head = single!.head!;
    assert.equal(await assertWhole(f, log), 4);
  });

  test("waits for the log's lock, and a writer inside a caller's transaction is never refused because of it", async () => {
    const trx = await f.db.transaction();
    const [inTransaction] = (await appendToLog(trx, log, [prepared(8, 'rec-a')])).events;
    let settled = false;
    const known = appendAtKnownHead(f.db, log, copy(head), new Map([['rec-a', 2]]), [prepared(9, 'rec-a')], 5000)
      .finally(() => { settled = true; });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(settled, false, 'the append did not wait for the lock held by the transaction');
    await trx.commit();
    // Its snapshot predates the commit it waited for: the unique (log_id, log_seq) index refuses it.
    assert.equal(await known, null);
    assert.equal(inTransaction?.logSeq, 5);
    assert.equal(await assertWhole(f, log), 5);
  });

  test("holds the log's lock before writing its first row, so a transaction's writer reads past it instead of colliding", async () => {
    head = (await appendBatchToLog(f.db, log, [prepared(19)], 1000)).head!;
    // A session's uncommitted subtree row stalls the append after it has inserted its event.
    const staller = new pg.Client({ connectionString: f.tdb.url });
    await staller.connect();
    try {
      await staller.query('BEGIN');
      await staller.query('INSERT INTO audit_subtrees (log_id, level, index, hash) VALUES ($1, 0, $2, $3)', [log.logId, head.size, Buffer.alloc(32)]);
      const known = appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(20)], 5000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const trx = await f.db.transaction();
      const inTransaction = appendToLog(trx, log, [prepared(21)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await staller.query('ROLLBACK');
      assert.equal((await known)?.events[0]?.logSeq, head.size + 1);
      assert.equal((await inTransaction).events[0]?.logSeq, head.size + 2, 'the transaction read the log after the append');
      await trx.commit();
      assert.equal(await assertWhole(f, log), head.size + 2);
    } finally {
      await staller.end();
    }
  });

  test('fails within the lock timeout while another session holds the lock, and the writer recovers after', async () => {
    const writer = new TenantAuditLog(f.db, new AuditLogRegistry(f.db, NAMESPACE), { lockTimeoutMs: 200 });
    const holder = new pg.Client({ connectionString: f.tdb.url });
    await holder.connect();
    try {
      await writer.record(event(10, { tenant: 'known' }));
      await writer.record(event(11, { tenant: 'known' }));
      await holder.query('SELECT pg_advisory_lock($1, $2)', [AUDIT_LOG_LOCK_CLASS, log.logId]);
      const before = await logSize(f.db, log.logId);
      await assert.rejects(appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(12)], 200), { code: '55P03' });
      await assert.rejects(writer.record(event(13, { tenant: 'known' })), (err: unknown) => err instanceof DependencyError && err.status === 503);
      assert.equal(await logSize(f.db, log.logId), before);
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [AUDIT_LOG_LOCK_CLASS, log.logId]);
      await writer.record(event(14, { tenant: 'known' }));
      await f.db.transaction((trx) => writer.record(event(15, { tenant: 'known' }), trx));
      await writer.record(event(16, { tenant: 'known' }));
      assert.equal(await assertWhole(f, log), before + 3);
    } finally {
      await holder.end();
      await writer.close();
    }
  });
});
