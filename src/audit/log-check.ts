import type { Knex } from 'knex';
import { hashLogEvent, logEventLeaf } from './canonical.js';
import type { AuditLogRef } from './logs.js';
import { CompactMerkle } from './merkle-compact.js';
import { AuditRecordError, LOG_EVENT_COLUMNS, rowToLogEvent, streamRows, type LogEventRow } from './rows.js';
import { GENESIS_HASH } from './types.js';

/** A log whose stored events are not what was appended: names the first bad logSeq. */
export class LogIntegrityError extends Error {
  constructor(readonly origin: string, readonly logSeq: number, message: string) {
    super(`${origin}: ${message}`);
    this.name = 'LogIntegrityError';
  }
}

export interface LogState {
  readonly size: number;
  readonly rootHash: Buffer;
  /** The chain hash of event `size` (the genesis hash for an empty log). */
  readonly lastHash: string;
}

/**
 * Recomputes a log from its stored events, 1..`upTo`, in O(log n) memory: numbering without
 * gaps, each hash, each link to the previous hash, and the Merkle root. `at` receives the state
 * at each size in `sizes` (e.g. the newest signed head's). Trusts nothing but the events.
 */
export async function recomputeLog(db: Knex, log: AuditLogRef, upTo: number, sizes: readonly number[] = []): Promise<Map<number, LogState>> {
  const wanted = new Set([...sizes, upTo]);
  const states = new Map<number, LogState>();
  const tree = new CompactMerkle();
  let prevHash = GENESIS_HASH;
  if (wanted.has(0)) states.set(0, { size: 0, rootHash: tree.root(), lastHash: prevHash });
  const rows = streamRows(db, (trx) => trx('audit_events').select(trx.raw(LOG_EVENT_COLUMNS))
    .where('log_id', log.logId).andWhere('log_seq', '<=', upTo).orderBy('audit_events.log_seq', 'asc'), (row: LogEventRow) => row, 1_000);
  for await (const row of rows) {
    const expected = tree.size + 1;
    let event;
    try {
      event = rowToLogEvent(row, log.origin);
    } catch (err) {
      if (err instanceof AuditRecordError) throw new LogIntegrityError(log.origin, Number(row.log_seq), err.message);
      throw err;
    }
    if (event.logSeq !== expected) throw new LogIntegrityError(log.origin, expected, `event ${expected} is missing`);
    if (event.prevHash !== prevHash) throw new LogIntegrityError(log.origin, expected, `event ${expected} does not link to event ${expected - 1}`);
    if (hashLogEvent(event) !== event.hash) throw new LogIntegrityError(log.origin, expected, `event ${expected} was altered: its hash does not match its content`);
    tree.append(logEventLeaf(event));
    prevHash = event.hash;
    if (wanted.has(tree.size)) states.set(tree.size, { size: tree.size, rootHash: tree.root(), lastHash: prevHash });
  }
  if (tree.size < upTo) throw new LogIntegrityError(log.origin, tree.size + 1, `the log ends at ${tree.size}, expected ${upTo} events`);
  return states;
}

/** The number of events in a log now. */
export async function logSize(db: Knex, logId: number): Promise<number> {
  const row = await db('audit_events').where('log_id', logId).orderBy('log_seq', 'desc')
    .first<{ size: string } | undefined>(db.raw('log_seq::text AS size'));
  return row ? Number(row.size) : 0;
}
