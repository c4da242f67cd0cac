import type { Knex } from 'knex';
import type { AuditEvent, LogEvent } from './types.js';

/** A stored or exported event that cannot be read back as one; verification fails at `seq`. */
export class AuditRecordError extends Error {
  constructor(readonly seq: number | undefined, message: string) {
    super(message);
    this.name = 'AuditRecordError';
  }
}

/**
 * Columns as text, so that reading back depends on neither the session's TimeZone/DateStyle
 * nor the driver's type parsers: `at` as exact epoch milliseconds, `details` as JSON text.
 */
export const EVENT_COLUMNS = [
  'seq::text AS seq', '(extract(epoch FROM at) * 1000)::text AS at_ms', 'tenant', 'actor_sub', 'actor_role', 'action',
  'outcome', 'recording_id', 'link_id', 'ip', 'user_agent', 'request_id', 'details::text AS details', 'prev_hash', 'hash',
].join(', ');

export interface EventRow {
  seq: string;
  at_ms: string;
  tenant: string | null;
  actor_sub: string;
  actor_role: string | null;
  action: string;
  outcome: string;
  recording_id: string | null;
  link_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

export function rowToEvent(row: EventRow): AuditEvent {
  const seq = Number(row.seq);
  const atMs = Number(row.at_ms);
  // Sub-millisecond digits are never written by callvault, so they can only be an edit.
  if (!Number.isSafeInteger(atMs)) throw new AuditRecordError(seq, `event ${seq}: "at" has sub-millisecond precision`);
  let details: unknown;
  try {
    details = JSON.parse(row.details);
  } catch {
    throw new AuditRecordError(seq, `event ${seq}: details are not JSON`);
  }
  if (!details || typeof details !== 'object' || Array.isArray(details)) throw new AuditRecordError(seq, `event ${seq}: details are not an object`);
  return {
    seq, at: new Date(atMs), tenant: row.tenant, actorSub: row.actor_sub, actorRole: row.actor_role, action: row.action,
    outcome: row.outcome, recordingId: row.recording_id, linkId: row.link_id, ip: row.ip, userAgent: row.user_agent,
    requestId: row.request_id, details: details as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

/**
 * Streams the rows that `build` selects (EVENT_COLUMNS) as events, through a server-side cursor
 * that fetches `batchSize` rows at a time as the consumer pulls. The cursor lives in its own
 * read-only transaction with no statement timeout: a large export or verification is one long
 * statement, and the pool's default timeout would otherwise cut it off. Ending the iteration
 * early (a client hanging up) closes the cursor and returns the connection.
 */
export function streamEvents(db: Knex, build: (db: Knex.Transaction) => Knex.QueryBuilder, batchSize = 500): AsyncGenerator<AuditEvent> {
  return streamRows(db, build, rowToEvent, batchSize);
}

/** Columns of a per-log event: EVENT_COLUMNS plus its position in its log. */
export const LOG_EVENT_COLUMNS = `${EVENT_COLUMNS}, log_seq::text AS log_seq, recording_prev::text AS recording_prev`;

export interface LogEventRow extends EventRow { log_seq: string; recording_prev: string | null }

/** A per-log event read back; `origin` is its log's (audit_logs.origin). */
export function rowToLogEvent(row: LogEventRow, origin: string): LogEvent {
  return {
    ...rowToEvent(row), log: origin, logSeq: Number(row.log_seq), recordingPrev: row.recording_prev === null ? null : Number(row.recording_prev),
  };
}

/** streamEvents for rows of any shape, mapped by `map`. */
export async function* streamRows<R, T>(db: Knex, build: (db: Knex.Transaction) => Knex.QueryBuilder, map: (row: R) => T, batchSize = 500): AsyncGenerator<T> {
  const trx = await db.transaction({ readOnly: true, isolationLevel: 'repeatable read' });
  try {
    await trx.raw('SET LOCAL statement_timeout = 0');
    yield* streamRowsIn(trx, build, map, batchSize);
    await trx.commit();
  } finally {
    if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
  }
}

/**
 * streamRows inside a transaction the caller holds (and has set the statement timeout of): for
 * work that must not need a second connection from the pool.
 */
export async function* streamRowsIn<R, T>(trx: Knex.Transaction, build: (db: Knex.Transaction) => Knex.QueryBuilder, map: (row: R) => T, batchSize = 500): AsyncGenerator<T> {
  const stream = build(trx).stream({ batchSize, highWaterMark: batchSize });
  try {
    for await (const row of stream as AsyncIterable<R>) yield map(row);
  } finally {
    stream.destroy();
  }
}
