import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { streamAuditExport } from '../../src/audit/export.js';
import { auditFixture, sql } from './support.js';

/**
 * AUDIT_EXPORT_ROWS=1000000 for the full million-row run (minutes on a small machine); the
 * default is large enough that holding the result in memory would blow the heap bound 4 times.
 */
const ROWS = Number(process.env.AUDIT_EXPORT_ROWS ?? 250_000);

// Live memory, not garbage awaiting collection: each sample follows a full collection.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
const liveHeap = (): number => {
  collect();
  return process.memoryUsage().heapUsed;
};

/**
 * A large export through a consumer that stalls: if the cursor ignored backpressure the rows
 * would pile up in memory. The chain need not be valid for this.
 */
test(`a ${ROWS}-row export keeps memory flat and respects backpressure`, async () => {
  const f = await auditFixture();
  try {
    await sql(f.tdb.adminUrl, `INSERT INTO audit_events (seq, at, tenant, actor_sub, actor_role, action, outcome, recording_id, ip,
        user_agent, request_id, details, prev_hash, hash)
      SELECT g, timestamptz '2026-01-01' + g * interval '1 millisecond', 'acme', 'user-' || (g % 97), 'supervisor', 'media.read',
        'allowed', CASE WHEN g % 1000 = 0 THEN md5(g::text)::uuid::text END, '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'req-' || g,
        jsonb_build_object('range', 'bytes=0-1023', 'n', g), md5(g::text) || md5(g::text), md5((g + 1)::text) || md5(g::text)
      FROM generate_series(1, ${ROWS}) g`);

    const baseline = liveHeap();
    let peak = baseline;
    const sampler = setInterval(() => { peak = Math.max(peak, liveHeap()); }, 100);
    let bytes = 0;
    let lines = 0;
    let stalled = false;
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
        if (!stalled && bytes > 8 * 1024 * 1024) {
          stalled = true;
          setTimeout(done, 1_500);
          return;
        }
        done();
      },
    });
    try {
      await pipeline(streamAuditExport(f.db, { tenant: 'acme' }, 'ndjson'), sink);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(lines, ROWS);
    const growthMb = (peak - baseline) / 2 ** 20;
    const totalMb = bytes / 2 ** 20;
    assert.ok(totalMb > ROWS / 4_000, `exported ${totalMb.toFixed(0)} MiB`);
    assert.ok(growthMb < 64, `heap grew by ${growthMb.toFixed(1)} MiB while exporting ${totalMb.toFixed(0)} MiB`);
  } finally {
    await f.close();
  }
});
