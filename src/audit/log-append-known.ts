import type { Knex } from 'knex';
import type { PreparedEvent } from './chain.js';
import { AUDIT_LOG_LOCK_CLASS, planAppend, type Appended, type LogHead } from './log-append.js';
import { GUARD_PARAM, guardedInsert, insertValues, type LogBatch } from './log-insert.js';
import type { AuditLogRef } from './logs.js';

/**
 * Appending in one round trip when the writer knows where each log ends (see LogHeads): batches
 * of several logs go in one prepared statement, committed on its own. For each log it tries the
 * log's lock, and writes that log's events and subtree rows only if it got the lock, the log
 * still ends at the known head, and each recording's last event is the one the events chain to
 * (no event about it after that one, which is about it).
 * The reply comes after the COMMIT, so a resolved append is durable. A log it did not write
 * (locked by another writer, or moved on since) is appended again the long way, under the lock.
 *
 * The lock is only tried, never waited for, so one tenant's busy log never holds up another's
 * events in the same statement. It is taken before that log's first row is inserted, which keeps
 * the other writers safe: a writer inside a caller's transaction reads under the same lock and
 * never meets an uncommitted row of this statement on the unique (log_id, log_seq) index. The
 * statement's snapshot predates its locks: when another writer committed an append in between,
 * the check can pass on the old snapshot, but the insert of the next log_seq then fails on that
 * index, which sees committed rows, and nothing of the statement is written.
 */

const STATEMENT = guardedInsert({
  ctes: `heads AS MATERIALIZED (
      SELECT g.log_id, g.size, g.hash, pg_try_advisory_xact_lock(${AUDIT_LOG_LOCK_CLASS}, g.log_id) AS locked
        FROM unnest($${GUARD_PARAM}::integer[], $${GUARD_PARAM + 1}::bigint[], $${GUARD_PARAM + 2}::text[]) AS g(log_id, size, hash)
    ), ok AS MATERIALIZED (
      SELECT h.log_id FROM heads h
        LEFT JOIN LATERAL (SELECT e.log_seq, e.hash FROM audit_events e WHERE e.log_id = h.log_id ORDER BY e.log_seq DESC LIMIT 1) AS last ON true
       WHERE h.locked AND coalesce(last.log_seq, 0) = h.size AND last.hash IS NOT DISTINCT FROM h.hash
         AND NOT EXISTS (
           SELECT 1 FROM unnest($${GUARD_PARAM + 3}::integer[], $${GUARD_PARAM + 4}::text[], $${GUARD_PARAM + 5}::bigint[]) AS r(log_id, id, prev)
            WHERE r.log_id = h.log_id
              AND (EXISTS (SELECT 1 FROM audit_events e WHERE e.log_id = r.log_id AND e.recording_id = r.id
                             AND (e.recording_id, e.log_seq) > (r.id, coalesce(r.prev, 0)))
                   OR (r.prev IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM audit_events e WHERE e.log_id = r.log_id AND e.log_seq = r.prev AND e.recording_id = r.id))))
    )`,
  logs: 'SELECT log_id FROM ok',
});

/**
 * Named, so each pooled connection parses and plans it once per generation. A plan made while
 * the table was a few pages long may find a recording's last event by walking the whole log; the
 * planner learns that the table grew only when ANALYZE runs or the statement is prepared again.
 * So it is prepared again each time the table doubles (told by the global seq it hands out), from
 * 512 events on: a few dozen plans in a table's life, and one more per process.
 */
const queryName = (generation: number): string => `callvault_audit_append_known_${generation}`;
const generationOf = (lastSeq: number): number => Math.max(0, Math.floor(Math.log2(lastSeq + 1)) - 8);

const UNIQUE_VIOLATION = '23505';

interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

/** One log's batch, to append after `head` (consumed: it is the head after them when written). */
export interface KnownBatch {
  readonly log: AuditLogRef;
  readonly head: LogHead;
  /** The last event about the batch's recordings as far as known; one not listed is assumed to have none. */
  readonly recordingPrev: Map<string, number>;
  readonly events: readonly PreparedEvent[];
}

function guardValues(batches: readonly KnownBatch[]): unknown[] {
  const checks = batches.flatMap((b) => [...new Set(b.events.flatMap((e) => (e.recordingId === null ? [] : [e.recordingId])))]
    .map((id) => ({ logId: b.log.logId, id, prev: b.recordingPrev.get(id) ?? null })));
  return [
    batches.map((b) => b.log.logId), batches.map((b) => b.head.size), batches.map((b) => (b.head.size === 0 ? null : b.head.hash)),
    checks.map((c) => c.logId), checks.map((c) => c.id), checks.map((c) => c.prev),
  ];
}

/** Per batch, what was appended to its log, or null when it was not written; and the last global seq handed out. */
export interface KnownAppendResult { readonly appended: (Appended | null)[]; readonly lastSeq: number | null }

/** Appends batches of distinct logs in one statement, `lastSeq` being the largest global seq seen so far. */
export async function appendAtKnownHeads(db: Knex, batches: readonly KnownBatch[], lastSeq = 0): Promise<KnownAppendResult> {
  const guard = guardValues(batches);
  const plans = batches.map((b): LogBatch & { head: LogHead } => ({ logId: b.log.logId, head: b.head, ...planAppend(b.log, b.head, b.recordingPrev, b.events) }));
  const conn = (await db.client.acquireConnection()) as PgConnection;
  let outcome: { written: number[]; events: number; subtrees: number; last_seq: string | null };
  try {
    const { rows } = await conn.query({ name: queryName(generationOf(lastSeq)), text: STATEMENT, values: [...insertValues(plans), ...guard] });
    outcome = rows[0] as typeof outcome;
  } catch (err) {
    if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return { appended: batches.map(() => null), lastSeq: null };
    throw err;
  } finally {
    await db.client.releaseConnection(conn);
  }
  const written = new Set(outcome.written);
  const expected = plans.filter((p) => written.has(p.logId));
  const events = expected.reduce((n, p) => n + p.events.length, 0);
  const subtrees = expected.reduce((n, p) => n + p.subtrees.length, 0);
  if (outcome.events !== events || outcome.subtrees !== subtrees) {
    throw new Error(`audit append wrote ${outcome.events} events and ${outcome.subtrees} subtrees of ${events} and ${subtrees}`);
  }
  return {
    appended: plans.map((p) => (written.has(p.logId) ? { events: p.events as Appended['events'], head: p.head } : null)),
    lastSeq: outcome.last_seq === null ? null : Number(outcome.last_seq),
  };
}

interface Pending {
  readonly batch: KnownBatch;
  readonly resolve: (appended: Appended | null) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit across logs for appends at known heads: batches that arrive while a statement is
 * in flight go together in the next one, so sixteen tenants writing one event each share one
 * statement and one WAL flush instead of taking sixteen.
 */
export class KnownHeadAppends {
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #lastSeq = 0;

  constructor(private readonly db: Knex, private readonly maxEvents = 500) {}

  append(batch: KnownBatch): Promise<Appended | null> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      this.#flushSoon();
    });
  }

  #flushSoon(): void {
    if (this.#flushing) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null;
      if (this.#queue.length > 0) this.#flushSoon();
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const taken = this.#take();
      try {
        const { appended, lastSeq } = await appendAtKnownHeads(this.db, taken.map((p) => p.batch), this.#lastSeq);
        this.#lastSeq = Math.max(this.#lastSeq, lastSeq ?? 0);
        taken.forEach((p, i) => p.resolve(appended[i] ?? null));
      } catch (err) {
        for (const p of taken) p.reject(err);
      }
    }
  }

  /** The next statement's batches: one per log, up to maxEvents (at least one batch). */
  #take(): Pending[] {
    const taken: Pending[] = [];
    const logs = new Set<number>();
    let events = 0;
    const rest: Pending[] = [];
    for (const p of this.#queue) {
      const fits = taken.length === 0 || events + p.batch.events.length <= this.maxEvents;
      if (fits && !logs.has(p.batch.log.logId)) {
        taken.push(p);
        logs.add(p.batch.log.logId);
        events += p.batch.events.length;
      } else {
        rest.push(p);
      }
    }
    this.#queue = rest;
    return taken;
  }
}
