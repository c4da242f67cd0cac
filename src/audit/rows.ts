import type { Knex } from 'knex';
import type { AuditEvent } from './types.js';

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

/** Streams rows of `query` (which must select EVENT_COLUMNS) as events, through a cursor. */
export async function* streamEvents(query: Knex.QueryBuilder, batchSize = 500): AsyncGenerator<AuditEvent> {
  const stream = query.stream({ batchSize, highWaterMark: batchSize });
  try {
    for await (const row of stream as AsyncIterable<EventRow>) yield rowToEvent(row);
  } finally {
    stream.destroy();
  }
}
