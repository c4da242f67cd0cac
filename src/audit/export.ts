import { Readable } from 'node:stream';
import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import { formatAt, jcs } from './canonical.js';
import { csvRecord, encodeCsvText } from './csv.js';
import { EVENT_COLUMNS, streamEvents } from './rows.js';
import type { AuditEvent } from './types.js';

export type AuditExportFormat = 'ndjson' | 'csv';

export interface AuditExportFilters {
  /** Only this tenant's events (null: those without a tenant); undefined exports every event (operators' full-table export). */
  readonly tenant?: string | null;
  /** Inclusive lower bound on `at`. */
  readonly after?: Date;
  /** Exclusive upper bound on `at`. */
  readonly before?: Date;
  readonly recordingId?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: string;
  /** Paging (the console's audit viewer): only events with seq above / below these. */
  readonly afterSeq?: number;
  readonly beforeSeq?: number;
  /** At most this many events; every matching event when absent. */
  readonly limit?: number;
  /** Oldest first (the default, and the order a verifier needs) or newest first. */
  readonly order?: 'asc' | 'desc';
}

/** Field order of both formats; the CSV header row is exactly these names. */
export const EXPORT_FIELDS = [
  'seq', 'at', 'tenant', 'actorSub', 'actorRole', 'action', 'outcome', 'recordingId', 'linkId', 'ip', 'userAgent',
  'requestId', 'details', 'prevHash', 'hash',
] as const;

const CHUNK_CHARS = 64 * 1024;

/** Events of the single-chain epoch (per-tenant logs export through log-export.ts). */
export function exportQuery(db: Knex, f: AuditExportFilters): Knex.QueryBuilder {
  return filterQuery(db('audit_events').select(db.raw(EVENT_COLUMNS)).whereNull('log_id').orderBy('audit_events.seq', f.order ?? 'asc'), f);
}

/** The export's filters as conditions on a query of audit_events. */
export function filterQuery(q: Knex.QueryBuilder, f: AuditExportFilters): Knex.QueryBuilder {
  if (f.tenant !== undefined) q.where('tenant', f.tenant);
  if (f.after) q.whereRaw('at >= ?::timestamptz', [formatAt(f.after)]);
  if (f.before) q.whereRaw('at < ?::timestamptz', [formatAt(f.before)]);
  if (f.recordingId !== undefined) q.where('recording_id', f.recordingId);
  if (f.actor !== undefined) q.where('actor_sub', f.actor);
  if (f.action !== undefined) q.where('action', f.action);
  if (f.outcome !== undefined) q.where('outcome', f.outcome);
  if (f.afterSeq !== undefined) q.where('audit_events.seq', '>', f.afterSeq);
  if (f.beforeSeq !== undefined) q.where('audit_events.seq', '<', f.beforeSeq);
  // Each part of an export (epoch, log) may stop at the limit; exportLines caps their sum.
  if (f.limit !== undefined) q.limit(f.limit);
  return q;
}

/** One NDJSON line; details in canonical (JCS) form, so the line re-hashes byte-for-byte. */
export function ndjsonLine(e: AuditEvent): string {
  const s = JSON.stringify;
  return `{"seq":${e.seq},"at":${s(formatAt(e.at))},"tenant":${s(e.tenant)},"actorSub":${s(e.actorSub)},`
    + `"actorRole":${s(e.actorRole)},"action":${s(e.action)},"outcome":${s(e.outcome)},"recordingId":${s(e.recordingId)},`
    + `"linkId":${s(e.linkId)},"ip":${s(e.ip)},"userAgent":${s(e.userAgent)},"requestId":${s(e.requestId)},`
    + `"details":${jcs(e.details)},"prevHash":${s(e.prevHash)},"hash":${s(e.hash)}}\n`;
}

export function csvLine(e: AuditEvent): string {
  const t = encodeCsvText;
  return csvRecord([
    String(e.seq), t(formatAt(e.at)), t(e.tenant), t(e.actorSub), t(e.actorRole), t(e.action), t(e.outcome),
    t(e.recordingId), t(e.linkId), t(e.ip), t(e.userAgent), t(e.requestId), t(jcs(e.details)), t(e.prevHash), t(e.hash),
  ]);
}

export const CSV_HEADER = csvRecord([...EXPORT_FIELDS]);

/**
 * The export as text chunks of about 64 KiB, read through a server-side cursor: memory stays
 * flat however many rows match, and rows are fetched only as fast as the consumer pulls. The
 * first chunk is yielded only after the query has produced rows (or ended), so a failing
 * query surfaces before anything is sent.
 */
export async function* exportChunks(db: Db, filters: AuditExportFilters, format: AuditExportFormat): AsyncGenerator<string> {
  const line = format === 'csv' ? csvLine : ndjsonLine;
  let buffer = format === 'csv' ? CSV_HEADER : '';
  for await (const event of streamEvents(db, (trx) => exportQuery(trx, filters))) {
    buffer += line(event);
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer.length > 0) yield buffer;
}

/** The export as a byte stream with backpressure; destroying it releases the cursor. */
export function streamAuditExport(db: Db, filters: AuditExportFilters, format: AuditExportFormat): Readable {
  return Readable.from(exportChunks(db, filters, format), { objectMode: false });
}
