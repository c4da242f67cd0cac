import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { APP_ROLE } from '../helpers/cluster.js';
import { auditFixture, event, sql, type AuditFixture } from './support.js';

/** Postgres error codes: 42501 insufficient_privilege (grants and our triggers both raise it). */
async function rejects(url: string, text: string, pattern: RegExp): Promise<void> {
  await assert.rejects(sql(url, text), (err: Error & { code?: string }) => {
    assert.equal(err.code, '42501', `${text}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('audit_events is append-only in the database', () => {
  let f: AuditFixture;
  before(async () => {
    f = await auditFixture();
    const log = new ChainedAuditLog(f.db);
    for (let i = 1; i <= 3; i++) await log.record(event(i));
    await log.close();
  });
  after(() => f.close());

  test('the service role may INSERT and SELECT only', async () => {
    const [row] = await sql<Record<string, boolean>>(f.tdb.superuserUrl, `SELECT
      has_table_privilege($1, 'audit_events', 'SELECT') AS sel, has_table_privilege($1, 'audit_events', 'INSERT') AS ins,
      has_table_privilege($1, 'audit_events', 'UPDATE') AS upd, has_table_privilege($1, 'audit_events', 'DELETE') AS del,
      has_table_privilege($1, 'audit_events', 'TRUNCATE') AS trunc, has_table_privilege($1, 'audit_events', 'REFERENCES') AS refs,
      has_table_privilege($1, 'audit_events', 'TRIGGER') AS trig`, [APP_ROLE]);
    assert.deepEqual(row, { sel: true, ins: true, upd: false, del: false, trunc: false, refs: false, trig: false });
    const [pub] = await sql<{ any: boolean }>(f.tdb.superuserUrl, `SELECT has_table_privilege('public', 'audit_events', 'SELECT') AS any`);
    assert.equal(pub?.any, false);
  });

  test('with the service credentials, UPDATE, DELETE and TRUNCATE fail', async () => {
    await rejects(f.tdb.url, `UPDATE audit_events SET actor_sub = 'mallory' WHERE seq = 2`, /permission denied/);
    await rejects(f.tdb.url, 'DELETE FROM audit_events WHERE seq = 3', /permission denied/);
    await rejects(f.tdb.url, 'TRUNCATE audit_events', /permission denied/);
    await rejects(f.tdb.url, 'ALTER TABLE audit_events DISABLE TRIGGER ALL', /must be owner/);
    const rows = await sql<{ n: string }>(f.tdb.url, 'SELECT count(*) AS n FROM audit_events');
    assert.equal(Number(rows[0]?.n), 3);
  });

  test('even the owner is stopped by the triggers', async () => {
    await rejects(f.tdb.adminUrl, `UPDATE audit_events SET actor_sub = 'mallory' WHERE seq = 2`, /append-only: UPDATE/);
    await rejects(f.tdb.adminUrl, 'DELETE FROM audit_events WHERE seq = 3', /append-only: DELETE/);
    await rejects(f.tdb.adminUrl, 'TRUNCATE audit_events', /append-only: TRUNCATE/);
    const rows = await sql<{ actor_sub: string }>(f.tdb.adminUrl, 'SELECT actor_sub FROM audit_events ORDER BY seq');
    assert.deepEqual(rows.map((r) => r.actor_sub), ['user-1', 'user-2', 'user-3']);
  });

  test('the service role cannot insert a row that breaks the column rules', async () => {
    await assert.rejects(sql(f.tdb.url, `INSERT INTO audit_events (seq, at, actor_sub, action, outcome, prev_hash, hash)
      VALUES (4, now(), 'x', 'x', 'maybe', repeat('0', 64), repeat('0', 64))`), /check constraint/);
  });
});
