import { formatAt, jcs } from './canonical.js';
import type { AppendedEvent, SubtreeRow } from './log-append.js';
import { EPOCH_EVENT } from './logs.js';

/**
 * The statement that writes a batch of one log: its events (global seq after the epoch event's,
 * in logSeq order) and the subtree rows they complete, both in one statement. Columns travel as
 * arrays, so the statement's shape does not depend on the batch size; a batch of one event, the
 * usual batch of a tenant writing alone, can travel as plain values, which the server reads
 * with less work.
 */

const COLUMNS = [
  ['log_seq', 'bigint'], ['recording_prev', 'bigint'], ['at', 'text'], ['tenant', 'text'], ['actor_sub', 'text'],
  ['actor_role', 'text'], ['action', 'text'], ['outcome', 'text'], ['recording_id', 'text'], ['link_id', 'text'], ['ip', 'text'],
  ['user_agent', 'text'], ['request_id', 'text'], ['details', 'text'], ['prev_hash', 'text'], ['hash', 'text'],
] as const;

const SUBTREE_TYPES = ['smallint', 'bigint', 'text'] as const;

type Cell = string | number | null;

/** Common table expressions evaluated before the inserts, and the condition under which they write. */
export interface InsertGuard { readonly ctes: string; readonly when: string }

/**
 * `$1` is the log_id, then one parameter per column (an array of them, or with `single` a value),
 * then the subtree rows' three arrays. With a guard, both inserts write only if its condition
 * holds, and the statement reports it as `written`.
 */
function insertStatement(single: boolean, guard: InsertGuard = { ctes: '', when: 'true' }): string {
  const names = COLUMNS.map(([name]) => name).join(', ');
  const select = COLUMNS.map(([name]) => (name === 'at' ? 't.at::timestamptz' : name === 'details' ? 't.details::jsonb' : `t.${name}`)).join(', ');
  const source = single
    ? `(SELECT ${COLUMNS.map(([name, type], i) => `$${i + 2}::${type} AS ${name}`).join(', ')}) AS t`
    : `(SELECT * FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 2}::${type}[]`).join(', ')}) WITH ORDINALITY AS u(${names}, ord) ORDER BY ord) AS t`;
  const subtrees = SUBTREE_TYPES.map((type, i) => `$${COLUMNS.length + 2 + i}::${type}[]`).join(', ');
  return `WITH ${guard.ctes ? `${guard.ctes},` : ''} cond AS MATERIALIZED (SELECT (${guard.when}) AS written),
    ev AS (
      INSERT INTO audit_events (seq, log_id, ${names})
      SELECT (SELECT seq FROM audit_events WHERE ${EPOCH_EVENT}) + nextval('audit_events_log_order'), $1::integer, ${select}
        FROM ${source}
       WHERE (SELECT written FROM cond)
      RETURNING 1
    ), st AS (
      INSERT INTO audit_subtrees (log_id, level, index, hash)
      SELECT $1::integer, s.level, s.index, decode(s.hash, 'hex')
        FROM unnest(${subtrees}) AS s(level, index, hash)
       WHERE (SELECT written FROM cond)
      RETURNING 1
    )
    SELECT (SELECT written FROM cond) AS written, (SELECT count(*) FROM ev)::int AS events, (SELECT count(*) FROM st)::int AS subtrees`;
}

/** The first parameter after those of the inserts. */
const GUARD_PARAM = COLUMNS.length + SUBTREE_TYPES.length + 2;

/** The parameterised statement for any batch. */
export const INSERT_SQL = insertStatement(false);

/** The same statement with knex's `?` placeholders, which are positional: $1 is bound several times. */
const INSERT_PARAM_ORDER = [...INSERT_SQL.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]) - 1);
export const INSERT_SQL_KNEX = INSERT_SQL.replace(/\$\d+/g, '?');

function insertColumns(events: readonly AppendedEvent[], subtrees: readonly SubtreeRow[], single: boolean): (Cell | Cell[])[] {
  const column = (pick: (e: AppendedEvent) => Cell): Cell | Cell[] => (single ? pick(events[0] as AppendedEvent) : events.map(pick));
  return [
    column((e) => e.logSeq), column((e) => e.recordingPrev), column((e) => formatAt(e.at)), column((e) => e.tenant),
    column((e) => e.actorSub), column((e) => e.actorRole), column((e) => e.action), column((e) => e.outcome),
    column((e) => e.recordingId), column((e) => e.linkId), column((e) => e.ip), column((e) => e.userAgent),
    column((e) => e.requestId), column((e) => jcs(e.details)), column((e) => e.prevHash), column((e) => e.hash),
    subtrees.map((s) => s.level), subtrees.map((s) => s.index), subtrees.map((s) => s.hash.toString('hex')),
  ];
}

/** Values for INSERT_SQL, in $-number order. */
export function insertValues(logId: number, events: readonly AppendedEvent[], subtrees: readonly SubtreeRow[]): unknown[] {
  return [logId, ...insertColumns(events, subtrees, false)];
}

/** Values for INSERT_SQL_KNEX, in placeholder order. */
export function insertBindings(logId: number, events: readonly AppendedEvent[], subtrees: readonly SubtreeRow[]): unknown[] {
  const values = insertValues(logId, events, subtrees);
  return INSERT_PARAM_ORDER.map((i) => values[i]);
}

/**
 * A guarded statement, in its two shapes: for one event and for any batch. The guard's own
 * parameters follow the inserts' (`firstParam` is the first of them).
 */
export function guardedInsert(guard: (firstParam: number) => InsertGuard): { readonly single: string; readonly batch: string } {
  return { single: insertStatement(true, guard(GUARD_PARAM)), batch: insertStatement(false, guard(GUARD_PARAM)) };
}

/** Values for a guarded statement's inserts, for the shape that fits `events`. */
export function guardedInsertValues(logId: number, events: readonly AppendedEvent[], subtrees: readonly SubtreeRow[]): unknown[] {
  return [logId, ...insertColumns(events, subtrees, events.length === 1)];
}
