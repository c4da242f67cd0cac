import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { DeniedLimiter } from '../../src/audit/denied-limiter.js';
import { verifyTable } from '../../src/audit/verify.js';
import { APP_ROLE } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';
import { auditFixture, CountingMetrics, event, sql, type AuditFixture } from './support.js';

const denied = (n: number, tenant: string | null = null) => event(n, {
  tenant, actorSub: 'anonymous', actorRole: null, action: 'auth.denied', outcome: 'denied', recordingId: null,
  details: { reason: 'invalid_token' },
});

describe('DeniedLimiter', () => {
  test('per-source token bucket refills over time', () => {
    const l = new DeniedLimiter({ perSourcePerMinute: 3, globalPerMinute: 1000 });
    const t0 = 1_000_000;
    assert.deepEqual([1, 2, 3, 4].map(() => l.allow('a', null, t0)), [true, true, true, false]);
    assert.equal(l.allow('b', null, t0), true, 'other sources have their own budget');
    assert.equal(l.allow('a', null, t0 + 10_000), false, 'a third of a token is not enough');
    assert.equal(l.allow('a', null, t0 + 20_000), true, 'one token after 20 s at 3/min');
    const [summary] = l.takeSummaries(t0 + 30_000);
    assert.deepEqual({ ...summary, since: summary?.since.getTime(), until: summary?.until.getTime() },
      { tenant: null, dropped: 2, sources: { a: 2 }, otherSourcesDropped: 0, since: t0, until: t0 + 30_000 });
    assert.deepEqual(l.takeSummaries(), []);
  });

  test('a global cap bounds floods from many sources, and summaries name a bounded number of them', () => {
    const l = new DeniedLimiter({ perSourcePerMinute: 5, globalPerMinute: 10, maxNamedSources: 3 });
    const t0 = 5_000_000;
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (l.allow(`10.0.0.${i}`, 'acme', t0)) allowed += 1;
    assert.equal(allowed, 10);
    const [s] = l.takeSummaries(t0);
    assert.equal(s?.dropped, 90);
    assert.equal(Object.keys(s?.sources ?? {}).length, 3);
    assert.equal(s?.otherSourcesDropped, 87);
  });

  test('memory stays bounded under a flood of distinct sources', () => {
    const l = new DeniedLimiter({ perSourcePerMinute: 1, globalPerMinute: 1_000_000, maxSources: 100 });
    for (let i = 0; i < 10_000; i++) l.allow(`s${i}`, null, 1);
    assert.ok(l.trackedSources <= 101, `${l.trackedSources} sources tracked`);
  });
});

describe('recordDenied', () => {
  let f: AuditFixture;
  before(async () => { f = await auditFixture(); });
  after(() => f.close());

  test('caps each source, counts drops, and summarises them per tenant in one event', async () => {
    const metrics = new CountingMetrics();
    const log = new ChainedAuditLog(f.db, { metrics, deniedPerMinute: 5 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.recordDenied(denied(i), '198.51.100.1')));
    await Promise.all(Array.from({ length: 8 }, (_, i) => log.recordDenied(denied(i, 'acme'), 'bob')));
    assert.equal(metrics.droppedCount, 35 + 3);
    await log.flushSuppressed();
    await log.close();
    const rows = await sql<{ action: string; tenant: string | null; details: Record<string, unknown> }>(f.tdb.superuserUrl,
      `SELECT action, tenant, details FROM audit_events ORDER BY seq`);
    assert.equal(rows.filter((r) => r.action === 'auth.denied').length, 10);
    const summaries = rows.filter((r) => r.action === 'audit.denied_suppressed');
    const byTenant = new Map(summaries.map((s) => [s.tenant, [s.details.dropped, s.details.sources]]));
    assert.equal(summaries.length, 2);
    assert.deepEqual(byTenant.get('acme'), [3, { bob: 3 }]);
    assert.deepEqual(byTenant.get(null), [35, { '198.51.100.1': 35 }]);
    assert.equal(metrics.writtenCount, 12);
    assert.equal((await verifyTable(f.db, undefined)).ok, true);
  });

  test('the summary is written on its own after a delay', async () => {
    const log = new ChainedAuditLog(f.db, { deniedPerMinute: 1, summaryDelayMs: 50 });
    await log.recordDenied(denied(1), 'x');
    await log.recordDenied(denied(2), 'x');
    const summaries = (): Promise<unknown[]> => sql(f.tdb.superuserUrl, `SELECT 1 FROM audit_events WHERE action = 'audit.denied_suppressed' AND details->'sources' ? 'x'`);
    await waitFor('the suppression summary', async () => (await summaries()).length > 0);
    assert.equal((await summaries()).length, 1);
    await log.close();
  });

  test('never throws, even when the log cannot be written; failures are counted', async () => {
    const metrics = new CountingMetrics();
    const log = new ChainedAuditLog(f.db, { metrics });
    await sql(f.tdb.superuserUrl, `REVOKE INSERT ON audit_events FROM ${APP_ROLE}`);
    try {
      await log.recordDenied(denied(1), 'y');
      await log.recordDenied({ ...denied(2), action: 'bogus' as never }, 'y');
    } finally {
      await sql(f.tdb.superuserUrl, `GRANT INSERT ON audit_events TO ${APP_ROLE}`);
    }
    assert.equal(metrics.failedCount, 1);
    await log.close();
  });
});
