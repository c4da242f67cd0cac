import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { prepareEvent } from '../../src/audit/chain.js';
import { AUDIT_LOG_LOCK_CLASS, appendBatchToLog, appendToLog, type LogHead } from '../../src/audit/log-append.js';
import { appendAtKnownHeads, type KnownBatch } from '../../src/audit/log-append-known.js';
import { logSize, recomputeLog } from '../../src/audit/log-check.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry, closeEpoch, type AuditLogRef } from '../../src/audit/logs.js';
import { rootHash } from '../../src/audit/merkle.js';
import { PgSubtreeStore } from '../../src/audit/subtrees.js';
import { createDb } from '../../src/db/knex.js';
import { DependencyError } from '../../src/errors.js';
import { auditFixture, event, NAMESPACE, sql, type AuditFixture } from './support.js';

/** One batch, in a statement of its own. */
const appendAtKnownHead = async (db: AuditFixture['db'], log: AuditLogRef, head: LogHead, recordingPrev: Map<string, number>, events: KnownBatch['events']) =>
  (await appendAtKnownHeads(db, [{ log, head, recordingPrev, events }])).appended[0] ?? null;

const copy = (head: LogHead): LogHead => ({ size: head.size, hash: head.hash, frontier: new Map(head.frontier) });
const prepared = (n: number, recordingId: string | null = null): ReturnType<typeof prepareEvent> =>
  prepareEvent(event(n, { tenant: 'known', recordingId }), new Date());
const preparedFor = (tenant: string, n: number): ReturnType<typeof prepareEvent> => prepareEvent(event(n, { tenant, recordingId: null }), new Date());

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
    const appended = await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-a', 1]]), [prepared(2, 'rec-a'), prepared(3, 'rec-b')]);
    assert.ok(appended?.head);
    assert.deepEqual(appended.events.map((e) => [e.logSeq, e.recordingPrev]), [[2, 1], [3, null]]);
    head = appended.head;

    assert.equal(await appendAtKnownHead(f.db, log, stale, new Map(), [prepared(4)]), null, 'a head another writer moved past');
    assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(5, 'rec-a')]), null, 'rec-a assumed to have no event');
    assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-b', 2]]), [prepared(6, 'rec-b')]), null, 'rec-b assumed at 2');
    assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-a', 3]]), [prepared(6, 'rec-a')]), null, 'rec-a assumed at 3, an event about rec-b');
    assert.equal(await assertWhole(f, log), 3, 'the refused appends wrote neither events nor subtrees');

    const single = await appendAtKnownHead(f.db, log, copy(head), new Map([['rec-b', 3]]), [prepared(7, 'rec-b')]);
    assert.deepEqual(single?.events.map((e) => [e.logSeq, e.recordingPrev]), [[4, 3]]);
    head = single!.head!;
    assert.equal(await assertWhole(f, log), 4);
  });

  test('a statement writes the logs it may and leaves the others: a log locked by another writer is not waited for', async () => {
    const registry = new AuditLogRegistry(f.db, NAMESPACE);
    const other = await registry.resolve('known-other');
    const otherHead = (await appendBatchToLog(f.db, other, [preparedFor('known-other', 1)], 1000)).head!;
    const trx = await f.db.transaction();
    try {
      // Holds the log's lock until the transaction ends; a statement that waited for it would never settle here.
      const [inTransaction] = (await appendToLog(trx, log, [prepared(8, 'rec-a')])).events;
      const [locked, free] = (await appendAtKnownHeads(f.db, [
        { log, head: copy(head), recordingPrev: new Map([['rec-a', 2]]), events: [prepared(9, 'rec-a')] },
        { log: other, head: copy(otherHead), recordingPrev: new Map(), events: [preparedFor('known-other', 2), preparedFor('known-other', 3)] },
      ])).appended;
      assert.equal(locked, null);
      assert.deepEqual(free?.events.map((e) => e.logSeq), [2, 3]);
      await trx.commit();
      assert.equal(inTransaction?.logSeq, 5);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
    assert.equal(await assertWhole(f, log), 5);
    assert.equal(await assertWhole(f, other), 3);
    // A head another writer moved past, beside one still current: only the current one is written.
    const [stale, current] = (await appendAtKnownHeads(f.db, [
      { log, head: copy(head), recordingPrev: new Map(), events: [prepared(10)] },
      { log: other, head: (await appendBatchToLog(f.db, other, [preparedFor('known-other', 4)], 1000)).head!, recordingPrev: new Map(), events: [preparedFor('known-other', 5)] },
    ])).appended;
    assert.equal(stale, null);
    assert.deepEqual(current?.events.map((e) => e.logSeq), [5]);
    assert.equal(await assertWhole(f, other), 5);
  });

  test("holds the log's lock before writing its first row, so a transaction's writer reads past it instead of colliding", async () => {
    head = (await appendBatchToLog(f.db, log, [prepared(19)], 1000)).head!;
    // A session's uncommitted subtree row stalls the append after it has inserted its event.
    const staller = new pg.Client({ connectionString: f.tdb.url });
    await staller.connect();
    try {
      await staller.query('BEGIN');
      await staller.query('INSERT INTO audit_subtrees (log_id, level, index, hash) VALUES ($1, 0, $2, $3)', [log.logId, head.size, Buffer.alloc(32)]);
      const known = appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(20)]);
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

  test('while another session holds the lock: nothing written at once, the writer fails within its lock timeout, and recovers after', async () => {
    const writer = new TenantAuditLog(f.db, new AuditLogRegistry(f.db, NAMESPACE), { lockTimeoutMs: 200 });
    const holder = new pg.Client({ connectionString: f.tdb.url });
    await holder.connect();
    try {
      await writer.record(event(10, { tenant: 'known' }));
      await writer.record(event(11, { tenant: 'known' }));
      await holder.query('SELECT pg_advisory_lock($1, $2)', [AUDIT_LOG_LOCK_CLASS, log.logId]);
      const before = await logSize(f.db, log.logId);
      assert.equal(await appendAtKnownHead(f.db, log, copy(head), new Map(), [prepared(12)]), null);
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

  test('appends waiting for their logs\' locks the long way take at most their share of the pool', async () => {
    const small = createDb({ url: f.tdb.url, poolMax: 3, connectTimeoutMs: 1_000 });
    const registry = new AuditLogRegistry(small, NAMESPACE);
    const writer = new TenantAuditLog(small, registry, { lockTimeoutMs: 3_000, maxLongAppends: 1 });
    const holder = new pg.Client({ connectionString: f.tdb.url });
    await holder.connect();
    const tenants = ['held-1', 'held-2', 'held-3'];
    try {
      for (const t of tenants) await holder.query('SELECT pg_advisory_lock($1, $2)', [AUDIT_LOG_LOCK_CLASS, (await registry.resolve(t)).logId]);
      const waiting = tenants.map((t) => writer.record(event(30, { tenant: t })));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Three tenants wait for their logs; the pool of three still serves a query at once.
      const started = performance.now();
      await small.raw('SELECT 1');
      assert.ok(performance.now() - started < 900, 'a query waited for a connection the audit writers held');
      await holder.query('SELECT pg_advisory_unlock_all()');
      await Promise.all(waiting);
      for (const t of tenants) assert.equal(await logSize(f.db, (await registry.resolve(t)).logId), 1);
    } finally {
      await holder.end();
      await writer.close();
      await small.destroy();
    }
  });
});
