import type { Knex } from 'knex';
import { sealLogEvent } from './canonical.js';
import type { AuditLogRef } from './logs.js';
import { CompactMerkle } from './merkle-compact.js';
import { AuditRecordError, LOG_EVENT_COLUMNS, rowToLogEvent, streamRows, streamRowsIn, type LogEventRow } from './rows.js';
import { GENESIS_HASH, type LogEvent } from './types.js';

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

/** Where a recomputation starts: a verified prefix of the log (its size, last hash and tree). */
export interface LogPrefix {
  readonly size: number;
  readonly lastHash: string;
  readonly tree: CompactMerkle;
}

/**
 * Recomputes a log from its stored events in O(log n) memory: numbering without gaps, each hash,
 * each link to the previous hash, and the Merkle root, up to `upTo`. From the start by default;
 * from a verified `prefix` (a signed head), the stored event at the prefix's size must still
 * carry the head's hash, which pins every event before it through the chain. Returns the state
 * at each size of `sizes` and at `upTo`. Trusts nothing but the events (and the prefix).
 */
export async function recomputeLog(
  db: Knex | Knex.Transaction, log: AuditLogRef, upTo: number, sizes: readonly number[] = [], prefix?: LogPrefix,
): Promise<Map<number, LogState>> {
  const wanted = new Set([...sizes, upTo]);
  const states = new Map<number, LogState>();
  const tree = prefix?.tree ?? new CompactMerkle();
  let prevHash = prefix?.lastHash ?? GENESIS_HASH;
  const from = prefix?.size ?? 0;
  if (wanted.has(from)) states.set(from, { size: from, rootHash: tree.root(), lastHash: prevHash });
  const query = (trx: Knex.Transaction): Knex.QueryBuilder => trx('audit_events').select(trx.raw(LOG_EVENT_COLUMNS)).where('log_id', log.logId)
    .andWhere('log_seq', '>=', Math.max(1, from)).andWhere('log_seq', '<=', upTo).orderBy('audit_events.log_seq', 'asc');
  const identity = (row: LogEventRow): LogEventRow => row;
  // Inside a transaction (a signer holding its log's lock), on its connection: never a second one.
  const rows = isTransaction(db) ? streamRowsIn(db, query, identity, 1_000) : streamRows(db, query, identity, 1_000);
  let pinned = from === 0;
  for await (const row of rows) {
    const event = readEvent(row, log);
    if (event.logSeq === from) {
      if (event.hash !== prevHash) throw new LogIntegrityError(log.origin, from, `event ${from} no longer carries the hash its signed head recorded: history was rewritten`);
      pinned = true;
      continue;
    }
    if (!pinned) throw new LogIntegrityError(log.origin, from, `event ${from}, the signed head, is missing`);
    const expected = tree.size + 1;
    if (event.logSeq !== expected) throw new LogIntegrityError(log.origin, expected, `event ${expected} is missing`);
    if (event.prevHash !== prevHash) throw new LogIntegrityError(log.origin, expected, `event ${expected} does not link to event ${expected - 1}`);
    const sealed = sealLogEvent(event);
    if (sealed.hash !== event.hash) throw new LogIntegrityError(log.origin, expected, `event ${expected} was altered: its hash does not match its content`);
    tree.append(sealed.leaf);
    prevHash = event.hash;
    if (wanted.has(tree.size)) states.set(tree.size, { size: tree.size, rootHash: tree.root(), lastHash: prevHash });
  }
  if (!pinned) throw new LogIntegrityError(log.origin, from, `event ${from}, the signed head, is missing`);
  if (tree.size < upTo) throw new LogIntegrityError(log.origin, tree.size + 1, `the log ends at ${tree.size}, expected ${upTo} events`);
  return states;
}

function readEvent(row: LogEventRow, log: AuditLogRef): LogEvent {
  try {
    return rowToLogEvent(row, log.origin);
  } catch (err) {
    if (err instanceof AuditRecordError) throw new LogIntegrityError(log.origin, Number(row.log_seq), err.message);
    throw err;
  }
}

/** The number of events in a log now. */
export async function logSize(db: Knex, logId: number): Promise<number> {
  const row = await db('audit_events').where('log_id', logId).orderBy('log_seq', 'desc')
    .first<{ size: string } | undefined>(db.raw('log_seq::text AS size'));
  return row ? Number(row.size) : 0;
}

function isTransaction(db: Knex | Knex.Transaction): db is Knex.Transaction {
  return 'isTransaction' in db && db.isTransaction === true;
}
