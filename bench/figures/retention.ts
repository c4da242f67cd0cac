/**
 * Figure 8: a retention pass over due recordings on the fs store, against the plain work it
 * cannot do without: unlink each object and UPDATE its row, for the same number of recordings
 * at the same concurrency. The pass does more (claims with leases, key destruction, a durable
 * directory fsync shared by the concurrent deletes, a tombstone, link revocation and a chained
 * `recording.deleted` event per recording, appended for the whole batch at once), which is what
 * the ratio prices. Both sets are ingested through the
 * vault's own ingest functions beforehand (not timed); the pass runs in this process, as
 * `callvault retention run --once` does.
 */
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { addDuration } from '../../src/config/duration.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/http/logger.js';
import type { AuditActor } from '../../src/audit/actor.js';
import { parseMetadata } from '../../src/recordings/metadata.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import type { BenchCluster } from '../lib/cluster.js';
import { wavStream } from '../lib/payload.js';
import { entry, type Entry } from '../lib/results.js';
import { objectsRoot } from '../lib/vault.js';

export interface RetentionOptions {
  readonly cluster: BenchCluster;
  readonly dataDir: string;
  readonly rows: number;
  readonly log: (line: string) => void;
}

const CONCURRENCY = 16;
const OBJECT_BYTES = 16 * 1024;
const ACTOR: AuditActor = { sub: 'pbx-bench', role: 'pbx', ip: '127.0.0.1', userAgent: 'callvault-bench', requestId: 'bench' };

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

/**
 * `count` recordings for `tenant`, uploaded through the ingest service, then dated `startedAt`
 * (2000 makes them long overdue) with the retainUntil they would have had on arriving then: an
 * upload arriving today with such a startedAt is refused (422 retention_already_expired).
 */
async function ingest(deps: Deps, tenant: string, count: number, startedAt: string): Promise<void> {
  const meta = parseMetadata({});
  await mapLimit(Array.from({ length: count }, (_v, i) => i), CONCURRENCY, async (i) => {
    await deps.ingest.upload({
      tenant, actor: ACTOR, expectedSha256: null,
      source: { kind: 'raw', callId: `retention-${i}-${randomUUID()}`, meta, body: wavStream(OBJECT_BYTES) },
    });
  });
  const retainUntil = addDuration(new Date(startedAt), deps.config.recordings.defaultRetention);
  await deps.db('recordings').where({ tenant }).update({ started_at: new Date(startedAt), retain_until: retainUntil });
}

/** The baseline: unlink + one UPDATE per recording, `CONCURRENCY` at a time. */
async function plainDelete(deps: Deps, root: string, tenant: string): Promise<number> {
  const rows = await deps.db('recordings').select<{ id: string; object_key: string }[]>('id', 'object_key').where({ tenant, status: 'active' });
  const started = performance.now();
  await mapLimit(rows, CONCURRENCY, async (r) => {
    await unlink(path.join(root, ...r.object_key.split('/')));
    await deps.db('recordings').where({ id: r.id }).update({ status: 'deleted', deleted_at: deps.db.fn.now() });
  });
  return rows.length / ((performance.now() - started) / 1000);
}

export async function runRetention(opts: RetentionOptions): Promise<Entry[]> {
  const database = await opts.cluster.createDatabase();
  const config = loadConfig({
    CALLVAULT_DATA_DIR: opts.dataDir, DATABASE_URL: database.url, DATABASE_ADMIN_URL: database.adminUrl,
    RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off', LOG_LEVEL: 'silent',
  });
  const deps = await createDeps(config, createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })));
  try {
    const setupStarted = performance.now();
    await ingest(deps, 'bench-due', opts.rows, '2000-01-01T00:00:00Z');
    await ingest(deps, 'bench-plain', opts.rows, new Date().toISOString());
    opts.log(`  set up ${2 * opts.rows} recordings in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`);
    const baseline = await plainDelete(deps, objectsRoot(opts.dataDir), 'bench-plain');
    const started = performance.now();
    const pass = await runRetentionPass(deps, new Date(), { concurrency: CONCURRENCY });
    const seconds = (performance.now() - started) / 1000;
    if (pass.deleted !== opts.rows || pass.failed !== 0) throw new Error(`the pass deleted ${pass.deleted} of ${opts.rows} (failed ${pass.failed})`);
    const value = pass.deleted / seconds;
    opts.log(`  retention ${value.toFixed(0)} deletions/s, plain ${baseline.toFixed(0)}/s`);
    return [entry({
      name: 'retention deletions', unit: 'deletions/s', value, baseline, baselineName: 'plain unlink + row UPDATE, same count',
      target: { kind: 'ratio-min', value: 0.7 },
      notes: `${opts.rows} due recordings (fs store), batch ${config.retention.batchSize}, ${CONCURRENCY} deletes in parallel on both sides`,
    })];
  } finally {
    await deps.close();
  }
}
