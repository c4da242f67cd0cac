/**
 * Figure 10: per-tenant audit logs (docs/audit.md, "Per-tenant logs").
 * - writers: `TenantAuditLog.record` (the vault's writer) from 16 concurrent writers, each awaiting durability,
 *   spread over 16 tenants (one log each) and then all in one tenant, against the same writers
 *   doing single-row committed inserts into an identical unchained table (figure 7's baseline);
 * - inclusion proofs at a million events against fetching the event alone (audit-proof.ts);
 * - offline verification of a per-log export: `verifyLogExport` over an unfiltered NDJSON export
 *   of a million events with its signed checkpoint, against reading the same file line by line
 *   and JSON.parse-ing each line with no check at all; peak RSS growth shows memory stays flat.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { AuditLogRegistry } from '../../src/audit/logs.js';
import { verifyLogExport } from '../../src/audit/log-verify.js';
import { createDb } from '../../src/db/knex.js';
import type { BenchCluster } from '../lib/cluster.js';
import { BENCH_NAMESPACE, writeLogExport } from '../lib/log-export.js';
import { entry, type Entry } from '../lib/results.js';
import { createPlainTable, drive, plainRow, sampleEvent } from './audit.js';
import { runAuditProof } from './audit-proof.js';

export interface AuditLogsOptions {
  readonly cluster: BenchCluster;
  /** Events per side of each writer figure. */
  readonly events: number;
  /** Events in the export verified offline. */
  readonly verifyEvents: number;
  /** Events in the log whose inclusion proofs are timed. */
  readonly proofEvents: number;
  readonly scratch: string;
  readonly log: (line: string) => void;
}

const WRITERS = 16;
const ROUNDS = 4;
const VERIFY_REPETITIONS = 3;

const harmonicMean = (xs: readonly number[]): number => xs.length / xs.reduce((s, x) => s + 1 / x, 0);

async function writers(opts: AuditLogsOptions, tenants: number): Promise<Entry> {
  const database = await opts.cluster.createDatabase();
  await createPlainTable(database.adminUrl, decodeURIComponent(new URL(database.url).username));
  const db = createDb({ url: database.url, poolMax: WRITERS + 2 });
  const audit = new TenantAuditLog(db, new AuditLogRegistry(db, 'callvault.example.com/bench'));
  const tenantOf = (i: number): string => `bench-${i % tenants}`;
  const chained = (i: number): Promise<void> => audit.record({ ...sampleEvent(i), tenant: tenantOf(i) });
  const plain = async (i: number): Promise<void> => { await db('audit_events_plain').insert(plainRow({ ...sampleEvent(i), tenant: tenantOf(i) })); };
  try {
    await drive(200, WRITERS, plain);
    await drive(200, WRITERS, chained);
    const perRound = Math.ceil(opts.events / ROUNDS);
    const rates = { plain: [] as number[], chained: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['plain', 'chained'] as const) : (['chained', 'plain'] as const);
      for (const side of order) rates[side].push(await drive(perRound, WRITERS, side === 'plain' ? plain : chained));
    }
    const value = harmonicMean(rates.chained);
    const baseline = harmonicMean(rates.plain);
    opts.log(`  ${tenants} tenant(s): chained ${value.toFixed(0)} events/s, plain ${baseline.toFixed(0)} inserts/s`);
    return entry({
      name: `per-tenant audit logs, ${tenants} tenant${tenants > 1 ? 's' : ''}`, unit: 'events/s', value, baseline,
      baselineName: 'plain inserts, identical unchained table',
      target: tenants > 1 ? { kind: 'ratio-min', value: 0.8 } : { kind: 'none' },
      notes: `${ROUNDS * perRound} events each side in ${ROUNDS} alternating rounds, ${WRITERS} concurrent writers over ${tenants} tenant(s), each awaiting durability`,
    });
  } finally {
    await audit.close();
    await db.destroy();
  }
}

/** Peak RSS above the starting RSS while `run` runs, sampled every 20 ms. */
async function peakRssGrowth<T>(run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

/** The floor any verifier stands on: the same file read in the same chunks, each line JSON.parse'd. */
async function parseOnly(file: string): Promise<number> {
  let n = 0;
  let pending = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 }) as AsyncIterable<string>) {
    const text = pending + chunk;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      if (JSON.parse(text.slice(start, nl)) !== null) n += 1;
      start = nl + 1;
    }
    pending = text.slice(start);
  }
  return n;
}

async function offlineVerify(opts: AuditLogsOptions): Promise<Entry> {
  const file = path.join(opts.scratch, 'audit-log-export.ndjson');
  const keys = generateKeyPairSync('ed25519');
  const spec = { origin: `${BENCH_NAMESPACE}/tenant/acme`, tenant: 'acme' };
  try {
    await writeLogExport(file, spec, opts.verifyEvents, keys.privateKey);
    const bytes = (await stat(file)).size;
    const rates = { verify: [] as number[], parse: [] as number[] };
    let growth = 0;
    for (let i = 0; i < VERIFY_REPETITIONS; i++) {
      let started = performance.now();
      const measured = await peakRssGrowth(() => verifyLogExport(file, { publicKey: keys.publicKey }));
      if (!measured.result.ok || measured.result.log.checked !== opts.verifyEvents) throw new Error(`the bench export did not verify: ${measured.result.reason}`);
      rates.verify.push(opts.verifyEvents / ((performance.now() - started) / 1000));
      growth = Math.max(growth, measured.growth);
      started = performance.now();
      await parseOnly(file);
      rates.parse.push(opts.verifyEvents / ((performance.now() - started) / 1000));
    }
    const value = Math.max(...rates.verify);
    const baseline = Math.max(...rates.parse);
    opts.log(`  offline verify ${value.toFixed(0)} events/s (read and parse only ${baseline.toFixed(0)}), peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    return entry({
      name: `offline verify, ${opts.verifyEvents.toLocaleString('en')}-event export`, unit: 'events/s', value, baseline,
      baselineName: 'reading and parsing the same file, no checks', target: { kind: 'value-min', value: 200_000 },
      notes: `best of ${VERIFY_REPETITIONS}; ${(bytes / 2 ** 20).toFixed(0)} MiB file; peak RSS growth while verifying ${(growth / 2 ** 20).toFixed(1)} MiB (constant memory)`,
    });
  } finally {
    await rm(file, { force: true });
  }
}

export async function runAuditLogs(opts: AuditLogsOptions): Promise<Entry[]> {
  return [
    await writers(opts, 16), await writers(opts, 1), ...await runAuditProof({ cluster: opts.cluster, events: opts.proofEvents, log: opts.log }),
    await offlineVerify(opts),
  ];
}
