/**
 * Inclusion proofs of a large per-tenant log: the proof of a random event among `events`,
 * served from audit_subtrees by PgSubtreeStore (what the proof endpoint and filtered exports
 * run), against fetching that event's row alone by (log_id, log_seq). The log is generated in
 * SQL as the owner: event rows, and every complete subtree computed level by level with
 * PostgreSQL's sha256() exactly as RFC 9162 hashes them (the events' own hashes are filler: a
 * proof reads subtrees only). Medians of alternating pairs; every query is counted.
 */
import { randomInt } from 'node:crypto';
import { inclusionProof } from '../../src/audit/merkle.js';
import { PgSubtreeStore } from '../../src/audit/subtrees.js';
import { createDb, type Db } from '../../src/db/knex.js';
import type { BenchCluster } from '../lib/cluster.js';
import { entry, type Entry } from '../lib/results.js';

export interface AuditProofOptions {
  readonly cluster: BenchCluster;
  readonly events: number;
  readonly log: (line: string) => void;
}

const PAIRS = 200;

async function populate(adminUrl: string, events: number): Promise<number> {
  // Generating a million events and their subtrees takes longer than a request's statement limit.
  const owner = createDb({ url: adminUrl, poolMax: 1, statementTimeoutMs: 0 });
  try {
    const { rows } = await owner.raw<{ rows: { log_id: number }[] }>(
      "INSERT INTO audit_logs (tenant, origin) VALUES ('bench', 'callvault.example.com/bench/tenant/bench') RETURNING log_id");
    const logId = rows[0]!.log_id;
    await owner.raw(`INSERT INTO audit_events (seq, log_id, log_seq, at, tenant, actor_sub, actor_role, action, outcome, recording_id,
        ip, user_agent, request_id, details, prev_hash, hash)
      SELECT g, ?, g, now(), 'bench', 'user-' || (g % 50), 'supervisor', 'media.read', 'allowed', md5((g % 997)::text),
        '203.0.113.7', 'bench/1.0', 'req-' || g, '{"bytes":65536}', encode(sha256(int8send(g - 1)), 'hex'), encode(sha256(int8send(g)), 'hex')
      FROM generate_series(1, ?) AS g`, [logId, events]);
    await owner.raw(`INSERT INTO audit_subtrees (log_id, level, index, hash)
      SELECT ?, 0, log_seq - 1, sha256('\\x00'::bytea || convert_to(hash, 'UTF8')) FROM audit_events WHERE log_id = ?`, [logId, logId]);
    for (let level = 1; 2 ** level <= events; level += 1) {
      await owner.raw(`INSERT INTO audit_subtrees (log_id, level, index, hash)
        SELECT l.log_id, ?, l.index / 2, sha256('\\x01'::bytea || l.hash || r.hash)
          FROM audit_subtrees l JOIN audit_subtrees r ON r.log_id = l.log_id AND r.level = l.level AND r.index = l.index + 1
         WHERE l.log_id = ? AND l.level = ? AND l.index % 2 = 0`, [level, logId, level - 1]);
    }
    await owner.raw('ANALYZE audit_events, audit_subtrees');
    return logId;
  } finally {
    await owner.destroy();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runAuditProof(opts: AuditProofOptions): Promise<Entry[]> {
  const database = await opts.cluster.createDatabase();
  const started = performance.now();
  const logId = await populate(database.adminUrl, opts.events);
  opts.log(`  generated a log of ${opts.events} events and its subtrees in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const db: Db = createDb({ url: database.url, poolMax: 2 });
  const store = new PgSubtreeStore(db, logId);
  let queries = 0;
  db.on('query', () => { queries += 1; });
  const fetchEvent = (logSeq: number): Promise<unknown> => db('audit_events').where({ log_id: logId, log_seq: logSeq }).first('*');
  try {
    for (let i = 0; i < 20; i++) await Promise.all([inclusionProof(store, randomInt(opts.events), opts.events), fetchEvent(1 + randomInt(opts.events))]);
    const times = { proof: [] as number[], event: [] as number[] };
    let maxQueries = 0;
    for (let i = 0; i < PAIRS; i++) {
      const index = randomInt(opts.events);
      const proofFirst = i % 2 === 0;
      for (const side of proofFirst ? ['proof', 'event'] as const : ['event', 'proof'] as const) {
        queries = 0;
        const t = performance.now();
        if (side === 'proof') await inclusionProof(store, index, opts.events);
        else await fetchEvent(index + 1);
        times[side].push(performance.now() - t);
        if (side === 'proof') maxQueries = Math.max(maxQueries, queries);
      }
    }
    const value = median(times.proof);
    const baseline = median(times.event);
    opts.log(`  inclusion proof ${value.toFixed(2)} ms (${maxQueries} round trip(s)), event alone ${baseline.toFixed(2)} ms`);
    const size = opts.events.toLocaleString('en');
    return [
      entry({
        name: `inclusion proof at ${size} events`, unit: 'ms', value, baseline, baselineName: 'fetching the event row alone', target: { kind: 'none' },
        notes: `median of ${PAIRS} alternating pairs, random events; the proof reads ${Math.ceil(Math.log2(opts.events))} or so subtree rows by primary key in one query`,
      }),
      entry({
        name: `inclusion proof at ${size} events: database round trips`, unit: 'queries', value: maxQueries, baseline: null,
        baselineName: '-', target: { kind: 'value-max', value: 2 }, notes: `most queries any of ${PAIRS} proofs made`,
      }),
    ];
  } finally {
    await db.destroy();
  }
}
