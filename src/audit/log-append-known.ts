import type { Knex } from 'knex';
import type { PreparedEvent } from './chain.js';
import { AUDIT_LOG_LOCK_CLASS, planAppend, type Appended, type LogHead } from './log-append.js';
import { guardedInsert, guardedInsertValues } from './log-insert.js';
import type { AuditLogRef } from './logs.js';

/**
 * Appending in one round trip when the writer knows where the log ends (see LogHeads): one
 * prepared statement, committed on its own, takes the log's lock and writes the events and
 * subtree rows only if the log ends at the known head and each recording's last event is the
 * one the events chain to. The reply comes after the COMMIT, so a resolved append is durable.
 *
 * The statement's snapshot predates its lock. When another writer appended in between, the check
 * can pass on the old snapshot, but the insert of the next log_seq then fails on the unique
 * (log_id, log_seq) index, which sees committed rows: either way nothing is written, and the
 * caller reads the log's end again under the lock. The lock is what keeps the other writers safe:
 * it is taken before any row is inserted, so a writer inside a caller's transaction, which reads
 * under the same lock, never meets an uncommitted row of this one on that index.
 */

const STATEMENTS = guardedInsert((p) => ({
  ctes: `lock AS MATERIALIZED (
      SELECT pg_advisory_xact_lock(${AUDIT_LOG_LOCK_CLASS}, $1::integer) FROM (SELECT set_config('lock_timeout', $${p}::text, true)) AS t
    ), head AS MATERIALIZED (
      SELECT log_seq, hash FROM audit_events WHERE log_id = $1::integer ORDER BY log_seq DESC LIMIT 1
    )`,
  when: `(SELECT count(*) FROM lock) = 1
    AND coalesce((SELECT log_seq FROM head), 0) = $${p + 1}::bigint AND (SELECT hash FROM head) IS NOT DISTINCT FROM $${p + 2}::text
    AND NOT EXISTS (SELECT 1 FROM unnest($${p + 3}::text[], $${p + 4}::bigint[]) AS r(id, prev)
      WHERE (SELECT e.log_seq FROM audit_events e WHERE e.log_id = $1::integer AND e.recording_id = r.id ORDER BY e.log_seq DESC LIMIT 1)
        IS DISTINCT FROM r.prev)`,
}));

/** Named, so each pooled connection parses and plans each shape once. */
const SINGLE = { name: 'callvault_audit_append_known_1', text: STATEMENTS.single };
const BATCH = { name: 'callvault_audit_append_known_n', text: STATEMENTS.batch };

const UNIQUE_VIOLATION = '23505';

interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Appends `events` after `head` (consumed: it is the head after them on success). `recordingPrev`
 * holds the last event about the batch's recordings as far as known; one not listed is assumed to
 * have none. Resolves null, having written nothing, when the log moved on since.
 */
export async function appendAtKnownHead(
  db: Knex, log: AuditLogRef, head: LogHead, recordingPrev: Map<string, number>, events: readonly PreparedEvent[], lockTimeoutMs: number,
): Promise<Appended | null> {
  const recordings = [...new Set(events.flatMap((e) => (e.recordingId === null ? [] : [e.recordingId])))];
  const assumed = recordings.map((id) => recordingPrev.get(id) ?? null);
  const guard = [`${Math.max(1, Math.floor(lockTimeoutMs))}ms`, head.size, head.size === 0 ? null : head.hash, recordings, assumed];
  const plan = planAppend(log, head, recordingPrev, events);
  const conn = (await db.client.acquireConnection()) as PgConnection;
  try {
    const values = [...guardedInsertValues(log.logId, plan.events, plan.subtrees), ...guard];
    const { rows } = await conn.query({ ...(plan.events.length === 1 ? SINGLE : BATCH), values });
    const outcome = rows[0] as { written: boolean; events: number; subtrees: number } | undefined;
    if (!outcome?.written) return null;
    if (outcome.events !== plan.events.length || outcome.subtrees !== plan.subtrees.length) {
      throw new Error(`audit append wrote ${outcome.events} events and ${outcome.subtrees} subtrees of ${plan.events.length} and ${plan.subtrees.length}`);
    }
    return { events: plan.events, head };
  } catch (err) {
    if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return null;
    throw err;
  } finally {
    await db.client.releaseConnection(conn);
  }
}
