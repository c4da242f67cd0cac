import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import type { AuditCheckpoints } from './checkpoints.js';
import { filterQuery, ndjsonLine, type AuditExportFilters, type AuditExportFormat } from './export.js';
import { logSize } from './log-check.js';
import { epochCsvLine, logCsvHeader, logCsvLine } from './log-csv.js';
import { checkpointLine, logNdjsonLine, proofJson, type ProofJson } from './log-lines.js';
import type { AuditLogRef } from './logs.js';
import type { SubtreeStore } from './merkle.js';
import { EVENT_COLUMNS, LOG_EVENT_COLUMNS, rowToLogEvent, streamEvents, streamRows, type LogEventRow } from './rows.js';
import { batchInclusionProofs, PgSubtreeStore } from './subtrees.js';
import type { LogEvent } from './types.js';

/**
 * A tenant's export as evidence that stands alone (docs/audit.md, "Export"): the tenant's
 * events of the single-chain epoch as today, then its log's events 1..size, then (NDJSON) the
 * checkpoint signed at exactly that size. Filtered, each log event carries its inclusion proof
 * in that checkpoint's tree. The size is fixed before the first row is read, so events written
 * while the export streams are left for the next one.
 */

export interface LogExportPlan {
  /** Null when the tenant has never had an event in a per-tenant log. */
  readonly log: AuditLogRef | null;
  readonly size: number;
  /** The signed checkpoint of the log at `size`; null for an empty log. */
  readonly checkpoint: string | null;
}

export interface LogExportDeps {
  /** The export pool: the cursors. */
  readonly db: Db;
  /** The main pool: head and subtree reads, short queries that must not wait behind the cursors. */
  readonly mainDb: Knex;
  readonly logs: { find(tenant: string | null): Promise<AuditLogRef | null> };
  /** Signed checkpoints at a given size, signing one (after checking the log) if none is stored. */
  readonly checkpoints: Pick<AuditCheckpoints, 'checkpoint'>;
}

/** Fixes what an export covers: the log's size now, and its checkpoint at that size. */
export async function planLogExport(deps: Pick<LogExportDeps, 'mainDb' | 'logs' | 'checkpoints'>, tenant: string | null): Promise<LogExportPlan> {
  const log = await deps.logs.find(tenant);
  if (!log) return { log: null, size: 0, checkpoint: null };
  const size = await logSize(deps.mainDb, log.logId);
  // Incremental: only the events since the newest signed head are rechecked on a request's path.
  const signed = size === 0 ? null : await deps.checkpoints.checkpoint(log, size, 'incremental');
  return { log, size, checkpoint: signed?.checkpoint ?? null };
}

/** True when the filters leave out events, so each needs its own proof of inclusion. */
export function isFiltered(f: AuditExportFilters): boolean {
  return f.after !== undefined || f.before !== undefined || f.recordingId !== undefined || f.actor !== undefined || f.action !== undefined
    || f.outcome !== undefined || f.afterSeq !== undefined || f.beforeSeq !== undefined || f.limit !== undefined;
}

const PROOF_BATCH = 256;
const CHUNK_CHARS = 64 * 1024;

async function* withProofs(events: AsyncIterable<LogEvent>, store: SubtreeStore, size: number): AsyncGenerator<[LogEvent, ProofJson]> {
  let batch: LogEvent[] = [];
  const prove = async (): Promise<[LogEvent, ProofJson][]> => {
    const proofs = await batchInclusionProofs(store, batch.map((e) => e.logSeq - 1), size);
    const out = batch.map((e, i): [LogEvent, ProofJson] => [e, proofJson(size, proofs[i]!)]);
    batch = [];
    return out;
  };
  for await (const e of events) {
    batch.push(e);
    if (batch.length >= PROOF_BATCH) yield* await prove();
  }
  if (batch.length > 0) yield* await prove();
}

function logRows(deps: LogExportDeps, filters: AuditExportFilters, plan: LogExportPlan & { log: AuditLogRef }): AsyncGenerator<LogEvent> {
  const origin = plan.log.origin;
  return streamRows(deps.db, (trx) => filterQuery(trx('audit_events').select(trx.raw(LOG_EVENT_COLUMNS)), { ...filters, tenant: undefined })
    .where('log_id', plan.log.logId).andWhere('log_seq', '<=', plan.size).orderBy('audit_events.log_seq', filters.order ?? 'asc'),
  (row: LogEventRow) => rowToLogEvent(row, origin));
}

/** The lines of a tenant's export, in order; see the module comment. */
async function* exportLines(deps: LogExportDeps, filters: AuditExportFilters, format: AuditExportFormat, plan: LogExportPlan): AsyncGenerator<string> {
  const filtered = isFiltered(filters);
  if (format === 'csv') yield logCsvHeader(filtered);
  // Epoch events precede every log event in seq: newest first (order=desc) reads the log first.
  // A page (limit) ends once that many events, of both parts together, have been sent.
  let left = filters.limit ?? Infinity;
  const parts = filters.order === 'desc' ? [logLines, epochLines] : [epochLines, logLines];
  for (const part of parts) {
    if (left <= 0) break;
    for await (const line of part(deps, filters, format, plan, filtered)) {
      if (left <= 0) break;
      left -= 1;
      yield line;
    }
  }
  if (format === 'ndjson' && plan.checkpoint) yield checkpointLine(plan.checkpoint);
}

async function* epochLines(deps: LogExportDeps, filters: AuditExportFilters, format: AuditExportFormat, _plan: LogExportPlan, filtered: boolean): AsyncGenerator<string> {
  const epoch = streamEvents(deps.db, (trx) => filterQuery(trx('audit_events').select(trx.raw(EVENT_COLUMNS)), filters)
    .whereNull('log_id').orderBy('audit_events.seq', filters.order ?? 'asc'));
  for await (const e of epoch) yield format === 'csv' ? epochCsvLine(e, filtered) : ndjsonLine(e);
}

async function* logLines(deps: LogExportDeps, filters: AuditExportFilters, format: AuditExportFormat, plan: LogExportPlan, filtered: boolean): AsyncGenerator<string> {
  if (!plan.log || plan.size === 0) return;
  const events = logRows(deps, filters, { ...plan, log: plan.log });
  if (filtered) {
    const store = new PgSubtreeStore(deps.mainDb, plan.log.logId);
    for await (const [e, proof] of withProofs(events, store, plan.size)) yield format === 'csv' ? logCsvLine(e, proof) : logNdjsonLine(e, proof);
  } else {
    for await (const e of events) yield format === 'csv' ? logCsvLine(e) : logNdjsonLine(e);
  }
}

/**
 * The export as text chunks of about 64 KiB, rows read through server-side cursors as the
 * consumer pulls. The first chunk is yielded only once rows have been produced (or there are
 * none), so a failing query surfaces before anything is sent.
 */
export async function* logExportChunks(deps: LogExportDeps, filters: AuditExportFilters, format: AuditExportFormat, plan: LogExportPlan): AsyncGenerator<string> {
  let buffer = '';
  for await (const line of exportLines(deps, filters, format, plan)) {
    buffer += line;
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer.length > 0) yield buffer;
}
