import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { followLines } from '../../src/audit/follow.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry } from '../../src/audit/logs.js';
import { auditFixture, event, NAMESPACE, type AuditFixture } from './support.js';

describe('following a log', () => {
  let f: AuditFixture;
  let writer: TenantAuditLog;
  before(async () => {
    f = await auditFixture();
    writer = new TenantAuditLog(f.db, new AuditLogRegistry(f.db, NAMESPACE));
  });
  after(async () => {
    await writer.close();
    await f.close();
  });

  test('sends an empty line while no event comes, so proxies keep the stream open, and events as they commit', async () => {
    await writer.record(event(1));
    const log = (await writer.logs.find('acme'))!;
    const stop = new AbortController();
    const lines = followLines({ db: f.db, onAppended: (l) => writer.onAppended(l), pollMs: 20, keepAliveMs: 150 }, log, 0, stop.signal);
    try {
      const started = performance.now();
      assert.match((await lines.next()).value ?? '', /^\{"log":"[^"]+\/tenant\/acme","logSeq":1,.*\}\n$/);
      assert.equal((await lines.next()).value, '\n');
      assert.ok(performance.now() - started >= 140, 'the keep-alive came before the stream had been quiet');
      assert.equal((await lines.next()).value, '\n', 'and again while it stays quiet');
      const next = lines.next();
      await writer.record(event(2));
      assert.match((await next).value ?? '', /"logSeq":2,/);
    } finally {
      stop.abort();
      await lines.return(undefined);
    }
  });
});
