import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import knexFactory from 'knex';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { verifyTable } from '../../src/audit/verify.js';
import { GENESIS_HASH } from '../../src/audit/types.js';
import { createDb } from '../../src/db/knex.js';
import { DependencyError } from '../../src/errors.js';
import { APP_ROLE } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';
import { auditFixture, CountingMetrics, event, sql, type AuditFixture } from './support.js';

function isAuditUnavailable(err: unknown): boolean {
  assert.ok(err instanceof DependencyError, `expected DependencyError, got ${String(err)}`);
  assert.equal(err.dependency, 'audit');
  assert.equal(err.status, 503);
  return true;
}

async function count(f: AuditFixture): Promise<number> {
  const rows = await sql<{ n: string }>(f.tdb.superuserUrl, 'SELECT count(*) AS n FROM audit_events');
  return Number(rows[0]?.n);
}

describe('ChainedAuditLog', () => {
  let f: AuditFixture;
  before(async () => { f = await auditFixture(); });
  after(() => f.close());

  test('record resolves once the event is committed, chained from genesis', async () => {
    const log = new ChainedAuditLog(f.db);
    const before = Date.now();
    await log.record(event(1));
    // A different connection sees it: committed, not merely sent.
    const rows = await sql<{ seq: string; prev_hash: string; at: Date; details: unknown }>(f.tdb.superuserUrl, 'SELECT seq, prev_hash, at, details FROM audit_events');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.prev_hash, GENESIS_HASH);
    assert.equal(Number(rows[0]?.seq), 1);
    assert.ok(Math.abs((rows[0]?.at.getTime() ?? 0) - before) < 5_000);
    assert.deepEqual(rows[0]?.details, { n: 1, nested: { a: [1, 'x', null], b: 1 } });
    await log.close();
  });

  test('concurrent calls are group-committed into one gapless chain', async () => {
    const metrics = new CountingMetrics();
    const log = new ChainedAuditLog(f.db, { metrics });
    const start = await count(f);
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.record(event(100 + i))));
    await log.close();
    assert.equal(metrics.writtenCount, 300);
    const rows = await sql<{ seq: string; tx: string }>(f.tdb.superuserUrl, 'SELECT seq, xmin::text AS tx FROM audit_events WHERE seq > $1 ORDER BY seq', [start]);
    assert.deepEqual(rows.map((r) => Number(r.seq)), Array.from({ length: 300 }, (_, i) => start + 1 + i));
    const transactions = new Set(rows.map((r) => r.tx)).size;
    assert.ok(transactions < 50, `300 events took ${transactions} transactions: not batched`);
    const result = await verifyTable(f.db, undefined);
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.checked, start + 300);
  });

  test('inside a caller transaction: committed with it, or gone without a gap', async () => {
    const log = new ChainedAuditLog(f.db);
    const start = await count(f);
    await assert.rejects(f.db.transaction(async (trx) => {
      await log.record(event(1, { action: 'recording.uploaded' }), trx);
      throw new Error('upload failed after the audit insert');
    }), /upload failed/);
    assert.equal(await count(f), start);
    await f.db.transaction(async (trx) => { await log.record(event(2, { action: 'recording.uploaded' }), trx); });
    await log.record(event(3));
    const rows = await sql<{ seq: string; action: string }>(f.tdb.superuserUrl, 'SELECT seq, action FROM audit_events WHERE seq > $1 ORDER BY seq', [start]);
    assert.deepEqual(rows.map((r) => [Number(r.seq), r.action]), [[start + 1, 'recording.uploaded'], [start + 2, 'recording.viewed']]);
    assert.equal((await verifyTable(f.db, undefined)).ok, true);
    await log.close();
  });

  test('recordMany appends a large batch in order inside the caller transaction, or none of it', async () => {
    const log = new ChainedAuditLog(f.db);
    const start = await count(f);
    // 5,000 rows of 15 columns are more bind parameters than one statement may carry.
    const batch = Array.from({ length: 5_000 }, (_, i) => event(i, { action: 'recording.deleted' }));
    await assert.rejects(f.db.transaction(async (trx) => {
      await log.recordMany(batch, trx);
      throw new Error('tombstones failed after the audit insert');
    }), /tombstones failed/);
    assert.equal(await count(f), start);
    await f.db.transaction((trx) => log.recordMany(batch, trx));
    const rows = await sql<{ seq: string; n: number; tx: string }>(f.tdb.superuserUrl,
      "SELECT seq, (details->>'n')::int AS n, xmin::text AS tx FROM audit_events WHERE seq > $1 ORDER BY seq", [start]);
    assert.deepEqual(rows.map((r) => [Number(r.seq), r.n]), batch.map((_e, i) => [start + 1 + i, i]));
    assert.equal(new Set(rows.map((r) => r.tx)).size, 1, 'one transaction');
    assert.equal((await verifyTable(f.db, undefined)).ok, true);
    await log.close();
  });

  test('fail closed: when the insert fails, record rejects with DependencyError(audit) and nothing is half-written', async () => {
    const metrics = new CountingMetrics();
    const log = new ChainedAuditLog(f.db, { metrics });
    const start = await count(f);
    await sql(f.tdb.superuserUrl, `REVOKE INSERT ON audit_events FROM ${APP_ROLE}`);
    try {
      await assert.rejects(log.record(event(1)), isAuditUnavailable);
      await assert.rejects(Promise.all([log.record(event(2)), log.record(event(3))]), isAuditUnavailable);
      await assert.rejects(f.db.transaction((trx) => log.record(event(4), trx)), isAuditUnavailable);
      assert.equal(metrics.failedCount, 4);
      assert.equal(metrics.writtenCount, 0);
    } finally {
      await sql(f.tdb.superuserUrl, `GRANT INSERT ON audit_events TO ${APP_ROLE}`);
    }
    assert.equal(await count(f), start);
    await log.record(event(5));
    assert.equal((await verifyTable(f.db, undefined)).ok, true);
    await log.close();
  });

  test('fail closed: an unreachable database rejects with DependencyError(audit)', async () => {
    const down = createDb({ url: 'postgres://nobody:x@127.0.0.1:1/none', connectTimeoutMs: 500 });
    try {
      await assert.rejects(new ChainedAuditLog(down).record(event(1)), isAuditUnavailable);
    } finally {
      await down.destroy();
    }
  });

  test('a batch waiting too long for the chain lock fails instead of hanging', async () => {
    const log = new ChainedAuditLog(f.db, { lockTimeoutMs: 200 });
    let release: () => void = () => undefined;
    let locked = false;
    const held = f.db.transaction(async (trx) => {
      await new ChainedAuditLog(f.db).record(event(1), trx);
      locked = true;
      await new Promise<void>((resolve) => { release = resolve; });
    });
    await waitFor('the first batch to hold the chain lock', async () => locked);
    await assert.rejects(log.record(event(2)), isAuditUnavailable);
    release();
    await held;
    await log.close();
  });

  test('invalid events are refused as programming errors and not written', async () => {
    const log = new ChainedAuditLog(f.db);
    const start = await count(f);
    await assert.rejects(log.record({ ...event(1), action: 'recording.stolen' as never }), TypeError);
    await assert.rejects(log.record({ ...event(1), outcome: 'maybe' as never }), TypeError);
    await assert.rejects(log.record({ ...event(1), actorSub: '' }), TypeError);
    await assert.rejects(log.record({ ...event(1), details: { big: 1n } as never }), TypeError);
    assert.equal(await count(f), start);
    await log.close();
  });

  test('hostile text (NUL, lone surrogates, formulas) is stored so that it still verifies', async () => {
    const log = new ChainedAuditLog(f.db);
    await log.record(event(1, { userAgent: 'curl\0/8 \ud800', actorSub: '=cmd|calc', details: { 'k\0': '\udfff', s: "'" } }));
    assert.equal((await verifyTable(f.db, undefined)).ok, true);
    await log.close();
  });

  test('session time zone and date style change nothing', async () => {
    const odd = knexFactory({
      client: 'pg',
      connection: { connectionString: f.tdb.url, options: '-c TimeZone=Asia/Kathmandu -c DateStyle=SQL,DMY -c IntervalStyle=postgres_verbose' },
      pool: { min: 0, max: 2 },
    });
    try {
      const log = new ChainedAuditLog(odd);
      const at = Date.now();
      await log.record(event(1, { action: 'policy.updated' }));
      await log.close();
      const [row] = await sql<{ ms: string }>(f.tdb.superuserUrl, `SELECT (extract(epoch FROM at) * 1000)::bigint::text AS ms
        FROM audit_events WHERE action = 'policy.updated'`);
      assert.ok(Math.abs(Number(row?.ms) - at) < 5_000, 'the stored instant is the real one');
      const viaOdd = await verifyTable(odd, undefined);
      assert.equal(viaOdd.ok, true, viaOdd.reason);
      assert.equal((await verifyTable(f.db, undefined)).ok, true);
    } finally {
      await odd.destroy();
    }
  });

  test('after close, record rejects', async () => {
    const log = new ChainedAuditLog(f.db);
    await log.close();
    await assert.rejects(log.record(event(1)), isAuditUnavailable);
  });
});
