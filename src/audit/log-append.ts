import type { Knex } from 'knex';
import pg from 'pg';
import { advisoryLockKey } from '../db/locks.js';
import { sealLogEvent } from './canonical.js';
import type { PreparedEvent } from './chain.js';
import { INSERT_SQL, INSERT_SQL_KNEX, insertValues } from './log-insert.js';
import type { AuditLogRef } from './logs.js';
import { nodeHash } from './merkle.js';
import { GENESIS_HASH, type LogEvent } from './types.js';
import { inRawTransaction } from './raw-transaction.js';

/**
 * Appending to one per-tenant log. Each log has its own transaction-scoped advisory lock (the
 * two-key form: this class and the log_id), so writers of different logs never wait for each
 * other. Under the lock the writer reads the log's head and Merkle frontier and the previous
 * event of each recording in the batch, chains and hashes in the process, and inserts the
 * events and the subtree rows they complete in one statement of the same transaction.
 */

/** First key of every log's lock; the second is the log_id. */
export const AUDIT_LOG_LOCK_CLASS = advisoryLockKey('audit.log');

/** A log event as appended; its global seq is assigned by the database. */
export type AppendedEvent = Omit<LogEvent, 'seq'>;

export interface SubtreeRow { readonly level: number; readonly index: number; readonly hash: Buffer }

/** Where a log ends: what the next append chains and folds onto. */
export interface LogHead {
  size: number;
  hash: string;
  /** Hash of the perfect subtree at each level whose bit is set in size: the tree's right edge. */
  frontier: Map<number, Buffer>;
}

export type Results = { rows: Record<string, unknown>[] }[];

const { escapeLiteral } = pg;

/** Under the lock: head and frontier (one statement), then each recording's last event. */
function readStatements(logId: number, recordingIds: readonly string[]): string {
  const id = String(logId);
  const head = `WITH head AS (SELECT log_seq, hash FROM audit_events WHERE log_id = ${id} ORDER BY log_seq DESC LIMIT 1)
    SELECT head.log_seq::text AS size, head.hash, f.level::text AS level, encode(f.hash, 'hex') AS subtree
      FROM head LEFT JOIN LATERAL (
        SELECT s.level, s.hash FROM generate_series(0, 62) AS l
          JOIN audit_subtrees s ON s.log_id = ${id} AND s.level = l AND s.index = (head.log_seq >> l) - 1
         WHERE (head.log_seq >> l) & 1 = 1) f ON true`;
  if (recordingIds.length === 0) return `${head};`;
  const ids = recordingIds.map((r) => escapeLiteral(r)).join(', ');
  return `${head}; SELECT r.id, (SELECT e.log_seq::text FROM audit_events e WHERE e.log_id = ${id} AND e.recording_id = r.id
      ORDER BY e.log_seq DESC LIMIT 1) AS log_seq FROM unnest(ARRAY[${ids}]::text[]) AS r(id);`;
}

export function lockStatement(logId: number): string {
  return `SELECT pg_advisory_xact_lock(${AUDIT_LOG_LOCK_CLASS}, ${String(logId)});`;
}

function parseReads(results: Results, withRecordings: boolean): { head: LogHead; recordingPrev: Map<string, number> } {
  const [headResult, recResult] = withRecordings ? results.slice(-2) : [results[results.length - 1], undefined];
  const rows = headResult?.rows ?? [];
  const head: LogHead = { size: 0, hash: GENESIS_HASH, frontier: new Map() };
  for (const row of rows) {
    head.size = Number(row.size);
    head.hash = String(row.hash);
    if (row.level !== null && row.subtree !== null) head.frontier.set(Number(row.level), Buffer.from(String(row.subtree), 'hex'));
  }
  const recordingPrev = new Map<string, number>();
  for (const row of recResult?.rows ?? []) if (row.log_seq !== null) recordingPrev.set(String(row.id), Number(row.log_seq));
  return { head, recordingPrev };
}

/** Appends one leaf to the frontier; returns the subtree rows it completes (its own included). */
function appendLeaf(head: LogHead, leaf: Buffer): SubtreeRow[] {
  const rows: SubtreeRow[] = [{ level: 0, index: head.size, hash: leaf }];
  let hash = leaf;
  let level = 0;
  let index = head.size;
  while (index % 2 === 1) {
    const left = head.frontier.get(level);
    // A missing row means the subtree table was tampered with: fail closed rather than guess.
    if (!left) throw new Error(`audit log subtree (level ${level}, index ${index - 1}) is missing`);
    head.frontier.delete(level);
    hash = nodeHash(left, hash);
    level += 1;
    index = (index - 1) / 2;
    rows.push({ level, index, hash });
  }
  head.frontier.set(level, hash);
  head.size += 1;
  return rows;
}

/** Chains, hashes and builds the subtree rows for `events` after `head` (pure). */
export function planAppend(
  log: AuditLogRef, head: LogHead, recordingPrev: Map<string, number>, events: readonly PreparedEvent[],
): { events: AppendedEvent[]; subtrees: SubtreeRow[] } {
  const out: AppendedEvent[] = [];
  const subtrees: SubtreeRow[] = [];
  for (const e of events) {
    const logSeq = head.size + 1;
    const prev = e.recordingId === null ? null : recordingPrev.get(e.recordingId) ?? null;
    const unsealed = { ...e, log: log.origin, logSeq, recordingPrev: prev, prevHash: head.hash };
    const sealed = sealLogEvent(unsealed);
    const event: AppendedEvent = { ...unsealed, hash: sealed.hash };
    subtrees.push(...appendLeaf(head, sealed.leaf));
    if (e.recordingId !== null) recordingPrev.set(e.recordingId, logSeq);
    head.hash = event.hash;
    out.push(event);
  }
  return { events: out, subtrees };
}

function distinctRecordings(events: readonly PreparedEvent[]): string[] {
  return [...new Set(events.flatMap((e) => (e.recordingId === null ? [] : [e.recordingId])))];
}

/** What an append wrote, and the log's head after it (null when it wrote nothing). */
export interface Appended { readonly events: AppendedEvent[]; readonly head: LogHead | null }

export const asResults = (r: Results | Results[number]): Results => (Array.isArray(r) ? r : [r]);

/**
 * Appends to one log inside the caller's transaction (READ COMMITTED). The log's lock is held
 * until that transaction ends, so callers record as the last step before committing.
 */
export async function appendToLog(trx: Knex.Transaction, log: AuditLogRef, events: readonly PreparedEvent[]): Promise<Appended> {
  if (events.length === 0) return { events: [], head: null };
  const recordings = distinctRecordings(events);
  const reads = await trx.raw<Results | Results[number]>(lockStatement(log.logId) + readStatements(log.logId, recordings));
  const { head, recordingPrev } = parseReads(asResults(reads), recordings.length > 0);
  const plan = planAppend(log, head, recordingPrev, events);
  await trx.raw(INSERT_SQL_KNEX, insertValues([{ logId: log.logId, ...plan }]) as Knex.RawBinding[]);
  return { events: plan.events, head };
}

/**
 * Appends a batch to one log in its own transaction in three round trips (begin, lock and
 * reads; insert; commit) on a connection straight from the pool: every round trip is time the
 * log's lock is held. Resolves after COMMIT.
 */
export async function appendBatchToLog(db: Knex, log: AuditLogRef, events: readonly PreparedEvent[], lockTimeoutMs: number): Promise<Appended> {
  return inRawTransaction(db, lockTimeoutMs, async (conn, begin) => {
    const recordings = distinctRecordings(events);
    const reads = await conn.query<Results | Results[number]>(begin + lockStatement(log.logId) + readStatements(log.logId, recordings));
    const { head, recordingPrev } = parseReads(asResults(reads), recordings.length > 0);
    const plan = planAppend(log, head, recordingPrev, events);
    await conn.query(INSERT_SQL, insertValues([{ logId: log.logId, ...plan }]));
    return { events: plan.events, head };
  });
}
