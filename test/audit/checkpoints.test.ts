import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { PassThrough, type Readable } from 'node:stream';
import { cliAuditVerify } from '../../src/audit/cli.js';
import { ensureAnchorKey, isAnchored } from '../../src/audit/anchors.js';
import { hashLogEvent, logEventLeaf } from '../../src/audit/canonical.js';
import { verifyCheckpoint, verifyCheckpointConsistency } from '../../src/audit/checkpoint.js';
import { AuditCheckpoints, checkpointObjectKey, CheckpointConflictError } from '../../src/audit/checkpoints.js';
import { logSize, recomputeLog } from '../../src/audit/log-check.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry, findEpoch, type AuditLogRef } from '../../src/audit/logs.js';
import { consistencyProof } from '../../src/audit/merkle.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import { LOG_EVENT_COLUMNS, rowToLogEvent, type LogEventRow } from '../../src/audit/rows.js';
import { PgSubtreeStore } from '../../src/audit/subtrees.js';
import { createDb } from '../../src/db/knex.js';
import { APP_ROLE } from '../helpers/cluster.js';
import { auditFixture, event, NAMESPACE, sql, type AuditFixture } from './support.js';

describe('signed checkpoints of the per-tenant logs', () => {
  let f: AuditFixture;
  let logs: AuditLogRegistry;
  let writer: TenantAuditLog;
  let checkpoints: AuditCheckpoints;
  let acme: AuditLogRef;
  before(async () => {
    f = await auditFixture();
    logs = new AuditLogRegistry(f.db, NAMESPACE);
    writer = new TenantAuditLog(f.db, logs);
    checkpoints = new AuditCheckpoints({ db: f.db, store: f.store, logs, anchorKeyFile: f.keyFile, generateAnchorKey: true });
    for (let i = 0; i < 40; i++) await writer.record(event(i % 4, { tenant: i % 3 ? 'acme' : 'globex' }));
    acme = (await logs.find('acme'))!;
  });
  after(async () => {
    await writer.close();
    await f.close();
  });

  test('anchoring signs every grown log, into audit_log_heads and the object store, and anchors the epoch', async () => {
    const key = await ensureAnchorKey(f.keyFile, true);
    const { signed, failed } = await checkpoints.anchor('manual');
    assert.deepEqual(failed, []);
    assert.deepEqual(signed.map((s) => s.origin).sort(), [`${NAMESPACE}/system`, `${NAMESPACE}/tenant/acme`, `${NAMESPACE}/tenant/globex`]);
    for (const { origin, checkpoint } of signed) {
      const log = (await logs.find(origin.endsWith('/system') ? null : origin.split('/').pop()!))!;
      const parsed = verifyCheckpoint(checkpoint.checkpoint, key.publicKey, origin);
      assert.equal(parsed.size, await logSize(f.db, log.logId));
      assert.deepEqual(parsed.rootHash, checkpoint.rootHash);
      assert.equal(await text(await f.store.get(checkpointObjectKey(log.logId, parsed.size)) as Readable), checkpoint.checkpoint);
      assert.deepEqual(await checkpoints.latest(log.logId), checkpoint);
    }
    // The system log holds the anchoring itself, so its checkpoint covers it.
    const system = (await logs.find(null))!;
    const [anchored] = await sql<{ action: string; log_seq: string }>(f.tdb.superuserUrl,
      'SELECT action, log_seq FROM audit_events WHERE log_id = $1 ORDER BY log_seq DESC LIMIT 1', [system.logId]);
    assert.equal(anchored?.action, 'audit.anchored');
    assert.ok(await isAnchored(f.store, (await findEpoch(f.db))!), 'the epoch event has its signed anchor');
  });

  test('a scheduled pass with nothing new signs nothing; later only the logs that grew', async () => {
    assert.deepEqual(await checkpoints.anchor('scheduled'), { signed: [], failed: [] });
    await writer.record(event(99, { tenant: 'globex' }));
    const { signed } = await checkpoints.anchor('scheduled');
    assert.deepEqual(signed.map((s) => s.origin).sort(), [`${NAMESPACE}/system`, `${NAMESPACE}/tenant/globex`]);
  });

  test('on demand, a checkpoint is signed after recomputing only what was appended since the newest', async () => {
    const key = await ensureAnchorKey(f.keyFile, true);
    const before = (await checkpoints.latest(acme.logId))!;
    for (let i = 0; i < 5; i++) await writer.record(event(50 + i, { tenant: 'acme' }));
    const next = (await checkpoints.checkpoint(acme, undefined, 'incremental'))!;
    assert.equal(next.size, before.size + 5);
    const state = (await recomputeLog(f.db, acme, next.size)).get(next.size)!;
    assert.deepEqual(next.rootHash, state.rootHash);
    const proof = await consistencyProof(new PgSubtreeStore(f.db, acme.logId), before.size, next.size);
    verifyCheckpointConsistency(before.checkpoint, next.checkpoint, proof, key.publicKey);
  });

  test('signers of one log never need a second connection: a pool of two serves two signers at once', async () => {
    const small = createDb({ url: f.tdb.url, poolMax: 2, connectTimeoutMs: 5_000 });
    try {
      // Two signers (as two replicas would be) each queue their own calls; both pass the database lock.
      const signer = (): AuditCheckpoints => new AuditCheckpoints({ db: small, store: f.store, logs: new AuditLogRegistry(small, NAMESPACE), anchorKeyFile: f.keyFile });
      const [a, b] = [signer(), signer()];
      await writer.record(event(60, { tenant: 'acme' }));
      const results = await Promise.all([
        a.checkpoint(acme, undefined, 'incremental'), b.checkpoint(acme), a.checkpoint(acme, undefined, 'incremental'), b.checkpoint(acme),
      ]);
      assert.equal(new Set(results.map((r) => r?.checkpoint)).size, 1, 'one size, signed once');
    } finally {
      await small.destroy();
    }
  });

  test('a checkpoint at an earlier size is signed on demand and consistent with the newest', async () => {
    const key = await ensureAnchorKey(f.keyFile, true);
    const newest = (await checkpoints.latest(acme.logId))!;
    const older = (await checkpoints.checkpoint(acme, 5))!;
    assert.equal(older.size, 5);
    assert.deepEqual(await checkpoints.checkpoint(acme, 5), older, 'the stored one is returned, not a second signature');
    const proof = await consistencyProof(new PgSubtreeStore(f.db, acme.logId), 5, newest.size);
    verifyCheckpointConsistency(older.checkpoint, newest.checkpoint, proof, key.publicKey);
  });

  test('the new tables refuse UPDATE, DELETE and TRUNCATE, even to the owner; the service role may only SELECT and INSERT', async () => {
    for (const table of ['audit_logs', 'audit_subtrees', 'audit_log_heads', 'audit_events']) {
      const [priv] = await sql<Record<string, boolean>>(f.tdb.superuserUrl, `SELECT
        has_table_privilege($1, $2, 'SELECT') AS sel, has_table_privilege($1, $2, 'INSERT') AS ins,
        has_table_privilege($1, $2, 'UPDATE') AS upd, has_table_privilege($1, $2, 'DELETE') AS del,
        has_table_privilege($1, $2, 'TRUNCATE') AS trunc`, [APP_ROLE, table]);
      assert.deepEqual(priv, { sel: true, ins: true, upd: false, del: false, trunc: false }, table);
      for (const [url, pattern] of [[f.tdb.url, /permission denied/], [f.tdb.adminUrl, /append-only/]] as const) {
        for (const statement of [`UPDATE ${table} SET ${table === 'audit_logs' ? 'tenant = tenant' : 'log_id = log_id'} WHERE log_id = ${acme.logId}`, `DELETE FROM ${table} WHERE log_id = ${acme.logId}`, `TRUNCATE ${table} CASCADE`]) {
          await assert.rejects(sql(url, statement), (err: Error & { code?: string }) => {
            assert.equal(err.code, '42501', `${statement}: ${err.message}`);
            assert.match(err.message, pattern);
            return true;
          });
        }
      }
    }
    const [row] = await sql<{ n: string }>(f.tdb.url, 'SELECT count(*) AS n FROM audit_subtrees WHERE log_id = $1', [acme.logId]);
    assert.ok(Number(row?.n) > 0);
  });

  test('a superuser who edits one event and recomputes every later hash and subtree is caught by the next checkpoint', async () => {
    await writer.record(event(7, { tenant: 'acme' }));
    const signedBefore = (await checkpoints.latest(acme.logId))!;
    await rewriteHistory(f.tdb.superuserUrl, acme, 3);
    await writer.record(event(8, { tenant: 'acme' }));
    // On a request's path only the new events are recomputed; the re-chained head is enough.
    await assert.rejects(checkpoints.checkpoint(acme, undefined, 'incremental'), (err: unknown) => {
      assert.ok(err instanceof CheckpointConflictError);
      assert.match(err.message, /history was rewritten/);
      return true;
    });
    const { signed, failed } = await checkpoints.anchor('manual');
    assert.deepEqual(failed.map((x) => x.origin), [acme.origin]);
    assert.ok(failed[0]?.error instanceof CheckpointConflictError);
    assert.match(failed[0]!.error.message, new RegExp(`no longer matches its checkpoint of size ${signedBefore.size}.*history was rewritten`));
    assert.ok(!signed.some((s) => s.origin === acme.origin), 'nothing is signed over the rewritten log');
    assert.ok(signed.some((s) => s.origin.endsWith('/system')), 'other logs are still signed');
    assert.deepEqual(await checkpoints.latest(acme.logId), signedBefore);

    // `callvault audit verify` on the table names the log and the reason.
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    assert.equal(await cliAuditVerify({}, { db: f.db, store: f.store, anchorKeyFile: f.keyFile, checkpoints, stdout, stderr }), 1);
    assert.match(stdout.read()?.toString() ?? '', new RegExp(`${acme.origin}: checked \\d+ events \\(logSeq 1\\.\\.\\d+\\), FAILED`));
    assert.match(stderr.read()?.toString() ?? '', /history was rewritten/);
  });

  test('verifying the table checks every log against its newest checkpoint', async () => {
    const results = await checkpoints.verifyAll();
    assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.origin), [acme.origin]);
    assert.ok(results.filter((r) => r.ok).every((r) => r.checkpointSize > 0 && r.size >= r.checkpointSize));
  });
});

/**
 * The attacker: a superuser with the triggers off, who changes event `logSeq` of `log` and then
 * recomputes every later hash and every subtree, so that the chain and the tree are consistent
 * again. Only the signed checkpoint stands in the way.
 */
async function rewriteHistory(superuserUrl: string, log: AuditLogRef, logSeq: number): Promise<void> {
  const rows = await sql<LogEventRow>(superuserUrl, `SELECT ${LOG_EVENT_COLUMNS} FROM audit_events WHERE log_id = $1 ORDER BY audit_events.log_seq`, [log.logId]);
  const events = rows.map((r) => rowToLogEvent(r, log.origin));
  const statements = ['SET session_replication_role = replica', `DELETE FROM audit_subtrees WHERE log_id = ${log.logId}`];
  const tree = new MemorySubtreeStore();
  let prevHash = events[0]!.prevHash;
  for (const e of events) {
    const edited = { ...e, prevHash, details: e.logSeq === logSeq ? { ...e.details, forged: true } : e.details };
    const hash = hashLogEvent(edited);
    statements.push(`UPDATE audit_events SET details = '${JSON.stringify(edited.details)}'::jsonb, prev_hash = '${prevHash}', hash = '${hash}'
      WHERE log_id = ${log.logId} AND log_seq = ${e.logSeq}`);
    tree.append(logEventLeaf(edited));
    prevHash = hash;
  }
  for (let level = 0; 2 ** level <= tree.size; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= tree.size; index++) {
      const [hash] = await tree.getSubtrees([{ level, index }]);
      statements.push(`INSERT INTO audit_subtrees VALUES (${log.logId}, ${level}, ${index}, '\\x${hash!.toString('hex')}')`);
    }
  }
  await sql(superuserUrl, statements.join(';\n'));
}
