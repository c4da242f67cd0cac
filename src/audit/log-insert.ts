import { formatAt, jcs } from './canonical.js';
import type { AppendedEvent, SubtreeRow } from './log-append.js';
import { EPOCH_EVENT } from './logs.js';

/**
 * The statement that writes batches of one or more logs: their events (global seq after the
 * epoch event's, in the order given, which is logSeq order within each log) and the subtree
 * rows they complete, both in one statement. Columns travel as arrays, so the statement's shape
 * does not depend on the batch size, and each row names its log.
 */

const COLUMNS = [
  ['log_id', 'integer'], ['log_seq', 'bigint'], ['recording_prev', 'bigint'], ['at', 'text'], ['tenant', 'text'], ['actor_sub', 'text'],
  ['actor_role', 'text'], ['action', 'text'], ['outcome', 'text'], ['recording_id', 'text'], ['link_id', 'text'], ['ip', 'text'],
  ['user_agent', 'text'], ['request_id', 'text'], ['details', 'text'], ['prev_hash', 'text'], ['hash', 'text'],
] as const;

const SUBTREE_COLUMNS = [['log_id', 'integer'], ['level', 'smallint'], ['index', 'bigint'], ['hash', 'text']] as const;

/** One log's part of a write. */
export interface LogBatch {
  readonly logId: number;
  readonly events: readonly AppendedEvent[];
  readonly subtrees: readonly SubtreeRow[];
}

/**
 * Common table expressions evaluated before the inserts, and a query of the log_ids whose rows
 * are written: the statement then reports those as `written`.
 */
export interface InsertGuard { readonly ctes: string; readonly logs: string }

function insertStatement(guard?: InsertGuard): string {
  const names = COLUMNS.map(([name]) => name).join(', ');
  const select = COLUMNS.map(([name]) => (name === 'at' ? 't.at::timestamptz' : name === 'details' ? 't.details::jsonb' : `t.${name}`)).join(', ');
  const events = COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const subtrees = SUBTREE_COLUMNS.map(([, type], i) => `$${COLUMNS.length + 1 + i}::${type}[]`).join(', ');
  const only = (alias: string): string => (guard ? `WHERE ${alias}.log_id IN (${guard.logs})` : '');
  return `WITH ${guard ? `${guard.ctes},` : ''}
    ev AS (
      INSERT INTO audit_events (seq, ${names})
      SELECT (SELECT seq FROM audit_events WHERE ${EPOCH_EVENT}) + nextval('audit_events_log_order'), ${select}
        FROM (SELECT * FROM unnest(${events}) WITH ORDINALITY AS u(${names}, ord) ORDER BY ord) AS t
       ${only('t')}
      RETURNING seq
    ), st AS (
      INSERT INTO audit_subtrees (log_id, level, index, hash)
      SELECT s.log_id, s.level, s.index, decode(s.hash, 'hex')
        FROM unnest(${subtrees}) AS s(log_id, level, index, hash)
       ${only('s')}
      RETURNING 1
    )
    SELECT ${guard ? `ARRAY(${guard.logs})` : 'NULL'} AS written, (SELECT count(*) FROM ev)::int AS events, (SELECT count(*) FROM st)::int AS subtrees,
      (SELECT max(seq) FROM ev)::text AS last_seq`;
}

/** The statement that writes unconditionally. */
export const INSERT_SQL = insertStatement();

/** The same statement with knex's `?` placeholders. */
export const INSERT_SQL_KNEX = INSERT_SQL.replace(/\$\d+/g, '?');

/** The first parameter after those of the inserts, for a guard's own. */
export const GUARD_PARAM = COLUMNS.length + SUBTREE_COLUMNS.length + 1;

/** The statement that writes the rows of the logs `guard` lets through. */
export const guardedInsert = (guard: InsertGuard): string => insertStatement(guard);

type Cell = string | number | null;

/** Values for the inserts of any of these statements, in $-number order. */
export function insertValues(batches: readonly LogBatch[]): Cell[][] {
  const rows = batches.flatMap((b) => b.events.map((e) => ({ logId: b.logId, e })));
  const column = (pick: (e: AppendedEvent) => Cell): Cell[] => rows.map((r) => pick(r.e));
  const subtrees = batches.flatMap((b) => b.subtrees.map((s) => ({ logId: b.logId, s })));
  return [
    rows.map((r) => r.logId), column((e) => e.logSeq), column((e) => e.recordingPrev), column((e) => formatAt(e.at)), column((e) => e.tenant),
    column((e) => e.actorSub), column((e) => e.actorRole), column((e) => e.action), column((e) => e.outcome),
    column((e) => e.recordingId), column((e) => e.linkId), column((e) => e.ip), column((e) => e.userAgent),
    column((e) => e.requestId), column((e) => jcs(e.details)), column((e) => e.prevHash), column((e) => e.hash),
    subtrees.map((r) => r.logId), subtrees.map((r) => r.s.level), subtrees.map((r) => r.s.index), subtrees.map((r) => r.s.hash.toString('hex')),
  ];
}
