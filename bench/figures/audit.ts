/**
 * Figure 7: the hash-chained audit log under 10 concurrent writers, each waiting for its event to
 * be durable before writing the next, against the same writers doing plain single-row inserts
 * (each its own committed transaction) into a table identical to audit_events but unchained:
 * same columns, constraints and indexes, seq from an identity column, no lock, no hash.
 * Rounds alternate plain and chained.
 */
import { randomUUID } from 'node:crypto';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import type { AuditEventInput } from '../../src/audit/types.js';
import { createDb, type Db } from '../../src/db/knex.js';
import type { BenchCluster } from '../lib/cluster.js';
import { entry, type Entry } from '../lib/results.js';

export interface AuditOptions {
  readonly cluster: BenchCluster;
  readonly events: number;
  readonly writers: number;
  readonly log: (line: string) => void;
}

const ZERO_HASH = '0'.repeat(64);
const ROUNDS = 4;

export function sampleEvent(i: number): AuditEventInput {
  return {
    tenant: 'bench', actorSub: `link:${randomUUID()}`, actorRole: null, action: 'media.read', outcome: 'allowed',
    recordingId: randomUUID(), linkId: randomUUID(), ip: '10.1.2.3', userAgent: 'Mozilla/5.0 (bench)', requestId: randomUUID(),
    details: { range: `bytes=${i * 65536}-${i * 65536 + 65535}`, bytes: 65536, status: 206 },
  };
}

export function plainRow(e: AuditEventInput): Record<string, unknown> {
  return {
    at: new Date().toISOString(), tenant: e.tenant, actor_sub: e.actorSub, actor_role: e.actorRole, action: e.action, outcome: e.outcome,
    recording_id: e.recordingId, link_id: e.linkId, ip: e.ip, user_agent: e.userAgent, request_id: e.requestId,
    details: JSON.stringify(e.details), prev_hash: ZERO_HASH, hash: ZERO_HASH,
  };
}

export async function createPlainTable(adminUrl: string, serviceRole: string): Promise<void> {
  const owner = createDb({ url: adminUrl, poolMax: 1 });
  try {
    await owner.raw('CREATE TABLE audit_events_plain (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)');
    await owner.raw('ALTER TABLE audit_events_plain ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY');
    await owner.raw('GRANT SELECT, INSERT ON audit_events_plain TO ??', [serviceRole]);
  } finally {
    await owner.destroy();
  }
}

/** `count` events from `writers` concurrent writers; events per second. */
export async function drive(count: number, writers: number, write: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < count) await write(next++);
  }));
  return count / ((performance.now() - started) / 1000);
}

export async function runAudit(opts: AuditOptions): Promise<Entry[]> {
  const database = await opts.cluster.createDatabase();
  await createPlainTable(database.adminUrl, decodeURIComponent(new URL(database.url).username));
  const db: Db = createDb({ url: database.url, poolMax: opts.writers });
  const log = new ChainedAuditLog(db);
  const chained = (i: number): Promise<void> => log.record(sampleEvent(i));
  const plain = async (i: number): Promise<void> => { await db('audit_events_plain').insert(plainRow(sampleEvent(i))); };
  try {
    await drive(100, opts.writers, plain);
    await drive(100, opts.writers, chained);
    const perRound = Math.ceil(opts.events / ROUNDS);
    const rates = { plain: [] as number[], chained: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      rates.plain.push(await drive(perRound, opts.writers, plain));
      rates.chained.push(await drive(perRound, opts.writers, chained));
    }
    const mean = (xs: number[]): number => xs.length / xs.reduce((s, x) => s + 1 / x, 0);
    const value = mean(rates.chained);
    const baseline = mean(rates.plain);
    opts.log(`  chained ${value.toFixed(0)} events/s, plain ${baseline.toFixed(0)} inserts/s`);
    return [entry({
      name: 'chained audit events', unit: 'events/s', value, baseline, baselineName: 'plain inserts, identical unchained table',
      target: { kind: 'ratio-min', value: 0.5 },
      notes: `${ROUNDS * perRound} events each side in ${ROUNDS} alternating rounds, ${opts.writers} concurrent writers, each awaiting durability (commit) before its next event`,
    })];
  } finally {
    await log.close();
    await db.destroy();
  }
}
