import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { recomputeLog, logSize } from '../../src/audit/log-check.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry, findEpoch, type AuditLogRef } from '../../src/audit/logs.js';
import { consistencyProof, inclusionProof, rootHash } from '../../src/audit/merkle.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import { logEventLeaf } from '../../src/audit/canonical.js';
import { LOG_EVENT_COLUMNS, rowToLogEvent, type LogEventRow } from '../../src/audit/rows.js';
import { PgSubtreeStore } from '../../src/audit/subtrees.js';
import { verifyTable } from '../../src/audit/verify.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { DependencyError } from '../../src/errors.js';
import { auditFixture, event, NAMESPACE, sql, type AuditFixture } from './support.js';

/** Every event of a log, as stored, in logSeq order. */
async function logEvents(db: Db, log: AuditLogRef): Promise<ReturnType<typeof rowToLogEvent>[]> {
  const rows = await db('audit_events').select(db.raw(LOG_EVENT_COLUMNS)).where('log_id', log.logId).orderBy('audit_events.log_seq') as LogEventRow[];
  return rows.map((r) => rowToLogEvent(r, log.origin));
}

/** The log's tree rebuilt in memory from its events, the reference for the stored subtrees. */
async function memoryTree(db: Db, log: AuditLogRef): Promise<MemorySubtreeStore> {
  const tree = new MemorySubtreeStore();
  for (const e of await logEvents(db, log)) tree.append(logEventLeaf(e));
  return tree;
}

describe('per-tenant audit logs', () => {
  let f: AuditFixture;
  let registry: AuditLogRegistry;
  before(async () => {
    f = await auditFixture();
    registry = new AuditLogRegistry(f.db, NAMESPACE);
  });
  after(() => f.close());

  test('the single chain keeps verifying as before; the first per-log write closes it, and it stays closed', async () => {
    const chain = new ChainedAuditLog(f.db);
    for (let i = 1; i <= 5; i++) await chain.record(event(i, { tenant: i % 2 ? 'acme' : 'globex' }));
    const before = await sql<{ seq: string; hash: string }>(f.tdb.superuserUrl, 'SELECT seq, hash FROM audit_events ORDER BY seq');
    assert.equal(await findEpoch(f.db), null);

    const logs = new TenantAuditLog(f.db, registry);
    await logs.record(event(6));
    await logs.close();
    const epoch = await findEpoch(f.db);
    assert.equal(epoch, 6, 'the epoch event follows the single chain directly');

    // The events of the epoch are untouched and verify under today's rules, epoch event included.
    const after = await sql<{ seq: string; hash: string }>(f.tdb.superuserUrl, 'SELECT seq, hash FROM audit_events WHERE log_id IS NULL ORDER BY seq');
    assert.deepEqual(after.slice(0, 5), before);
    const result = await verifyTable(f.db, undefined);
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.lastSeq, 6);

    // A writer of the previous version fails closed (503) instead of extending the closed chain.
    await assert.rejects(chain.record(event(7)), (err: unknown) => err instanceof DependencyError && err.status === 503);
    await chain.close();
    await assert.rejects(sql(f.tdb.adminUrl, `INSERT INTO audit_events (seq, at, actor_sub, action, outcome, prev_hash, hash)
      VALUES (1000, now(), 'x', 'recording.viewed', 'allowed', repeat('0', 64), repeat('0', 64))`), /single audit chain is closed/);
  });

  test('concurrent writers in two processes number each log 1..n without gaps, chained, with subtrees that give the same root', async () => {
    const other = createDb({ url: f.tdb.url, poolMax: 6 });
    const a = new TenantAuditLog(f.db, registry);
    const b = new TenantAuditLog(other, new AuditLogRegistry(other, NAMESPACE));
    const tenants = ['acme', 'globex', 'initech'];
    try {
      await Promise.all([
        ...Array.from({ length: 240 }, (_, i) => (i % 2 ? a : b).record(event(i % 7, { tenant: tenants[i % 3]! }))),
        ...Array.from({ length: 20 }, (_, i) => f.db.transaction((trx) => a.recordMany([event(i), event(i + 1, { tenant: 'globex' })], trx))),
        ...Array.from({ length: 10 }, (_, i) => a.record(event(i, { tenant: null, recordingId: null }))),
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await other.destroy();
    }
    for (const tenant of [...tenants, null]) {
      const log = (await registry.find(tenant))!;
      const events = await logEvents(f.db, log);
      assert.deepEqual(events.map((e) => e.logSeq), Array.from({ length: events.length }, (_, i) => i + 1), `${log.origin} has gaps`);
      const size = await logSize(f.db, log.logId);
      const state = (await recomputeLog(f.db, log, size)).get(size)!;
      assert.deepEqual(await rootHash(new PgSubtreeStore(f.db, log.logId), size), state.rootHash);
      // recordingPrev links each event to the previous one about the same recording.
      const last = new Map<string, number>();
      for (const e of events) {
        assert.equal(e.recordingPrev, e.recordingId === null ? null : last.get(e.recordingId) ?? null, `${log.origin} event ${e.logSeq}`);
        if (e.recordingId !== null) last.set(e.recordingId, e.logSeq);
      }
    }
  });

  test("a tenant's writer never waits for another tenant's log lock", async () => {
    const log = new TenantAuditLog(f.db, registry, { lockTimeoutMs: 300 });
    const trx = await f.db.transaction();
    try {
      // Holds acme's log lock until this transaction ends.
      await log.record(event(1, { tenant: 'acme' }), trx);
      const started = Date.now();
      await log.record(event(2, { tenant: 'globex' }));
      assert.ok(Date.now() - started < 300, 'globex waited for acme');
      const globex = (await registry.find('globex'))!;
      const [row] = await sql<{ n: string }>(f.tdb.superuserUrl, 'SELECT count(*) AS n FROM audit_events WHERE log_id = $1 AND actor_sub = $2', [globex.logId, 'user-2']);
      assert.ok(Number(row?.n) >= 1, 'globex committed while acme was locked');
      // The same tenant does wait: the lock is real.
      await assert.rejects(log.record(event(3, { tenant: 'acme' })), (err: unknown) => err instanceof DependencyError && err.status === 503);
    } finally {
      await trx.rollback();
      await log.close();
    }
  });

  test('proofs served from the stored subtrees equal those of MemorySubtreeStore, each in one query', async () => {
    const acme = (await registry.find('acme'))!;
    const size = await logSize(f.db, acme.logId);
    assert.ok(size > 100);
    const memory = await memoryTree(f.db, acme);
    const stored = new PgSubtreeStore(f.db, acme.logId);
    let queries = 0;
    const count = (): void => { queries += 1; };
    f.db.on('query', count);
    try {
      for (const n of [1, 2, 3, 7, 8, 64, 99, size]) {
        assert.deepEqual(await rootHash(stored, n), await rootHash(memory, n), `root ${n}`);
        for (const i of [0, Math.floor(n / 2), n - 1]) assert.deepEqual(await inclusionProof(stored, i, n), await inclusionProof(memory, i, n), `inclusion ${i} of ${n}`);
        for (const m of [1, Math.floor(n / 3), n - 1]) if (m > 0 && m <= n) assert.deepEqual(await consistencyProof(stored, m, n), await consistencyProof(memory, m, n), `consistency ${m}..${n}`);
      }
      queries = 0;
      await inclusionProof(stored, 17, size);
      assert.equal(queries, 1, 'an inclusion proof is one query');
      queries = 0;
      await consistencyProof(stored, 33, size);
      assert.equal(queries, 1, 'a consistency proof is one query');
    } finally {
      f.db.off('query', count);
    }
    await assert.rejects(inclusionProof(stored, 0, size + 1), /not stored/);
  });
});
