import { formatAt, jcs } from './canonical.js';
import { csvRecord, decodeCsvCell, encodeCsvText, type CsvCell } from './csv.js';
import { EXPORT_FIELDS } from './export.js';
import { LOG_EXPORT_FIELDS, LogRecordError, isProof, proofText, toLogEvent, type ExportRecord, type ProofJson } from './log-lines.js';
import { parseCsvRecord } from './parse.js';
import type { AuditEvent, LogEvent } from './types.js';
import { duplicateJsonKey } from '../lib/json-keys.js';

/**
 * The CSV form of a per-log export (docs/audit.md, "CSV"): the NDJSON members as columns, plus
 * `proof` when filtered; epoch rows leave `log`, `logSeq` and `recordingPrev` empty. No
 * checkpoint row: the checkpoint is a separate file.
 */

export function logCsvHeader(filtered: boolean): string {
  return csvRecord([...LOG_EXPORT_FIELDS, ...(filtered ? ['proof'] : [])]);
}

const num = (n: number | null | undefined): string => (n === null || n === undefined ? '' : String(n));

/** The CSV cells of an event; `log` is null for an event of the single-chain epoch. */
function rowCells(e: AuditEvent, log: LogEvent | null): string[] {
  const t = encodeCsvText;
  return [
    t(log?.log ?? null), num(log?.logSeq), String(e.seq), t(formatAt(e.at)), t(e.tenant), t(e.actorSub), t(e.actorRole),
    t(e.action), t(e.outcome), t(e.recordingId), num(log?.recordingPrev), t(e.linkId), t(e.ip), t(e.userAgent),
    t(e.requestId), t(jcs(e.details)), t(e.prevHash), t(e.hash),
  ];
}

/** A per-log CSV record; `proof` given (null for none) only in filtered exports, whose header has the column. */
export function logCsvLine(e: LogEvent, proof?: ProofJson | null): string {
  return csvRecord([...rowCells(e, e), ...(proof === undefined ? [] : [proof ? encodeCsvText(proofText(proof)) : ''])]);
}

/** An epoch event in the per-log CSV columns: no log, logSeq or recordingPrev, and no proof. */
export function epochCsvLine(e: AuditEvent, filtered: boolean): string {
  return csvRecord([...rowCells(e, null), ...(filtered ? [''] : [])]);
}

const EPOCH_COLUMNS = EXPORT_FIELDS.map((name) => LOG_EXPORT_FIELDS.indexOf(name));

function bareNumber(cell: CsvCell | undefined): number | null {
  if (!cell || cell.quoted || cell.text === '') return null;
  return /^\d{1,15}$/.test(cell.text) ? Number(cell.text) : Number.NaN;
}

/** One CSV record in the per-log columns (after the header). */
export function parseLogCsvRecord(cells: readonly CsvCell[], recordNo: number, filtered: boolean): ExportRecord {
  const where = `CSV record ${recordNo}`;
  const logSeq = bareNumber(cells[1]);
  const hint = logSeq !== null && Number.isSafeInteger(logSeq) ? logSeq : undefined;
  const width = LOG_EXPORT_FIELDS.length + (filtered ? 1 : 0);
  if (cells.length !== width) throw new LogRecordError(hint, `${where}: expected ${width} cells, found ${cells.length}`);
  if (decodeCsvCell(cells[0]!) === null) return { kind: 'epoch', event: parseCsvRecord(EPOCH_COLUMNS.map((i) => cells[i]!), recordNo) };
  const f: Record<string, unknown> = {};
  LOG_EXPORT_FIELDS.forEach((name, i) => { f[name] = decodeCsvCell(cells[i]!); });
  f.logSeq = logSeq;
  f.seq = bareNumber(cells[2]);
  f.recordingPrev = bareNumber(cells[10]);
  f.details = jsonCell(f.details, where, hint, 'details');
  const proof = filtered ? jsonCell(decodeCsvCell(cells[width - 1]!), where, hint, 'proof') : null;
  if (filtered && !isProof(proof)) throw new LogRecordError(hint, `${where}: proof is not {treeSize, hashes}`);
  return { kind: 'log', event: toLogEvent(f, where), proof: proof as ProofJson | null };
}

function jsonCell(text: unknown, where: string, hint: number | undefined, name: string): unknown {
  if (typeof text !== 'string') throw new LogRecordError(hint, `${where}: ${name} is missing`);
  const duplicate = duplicateJsonKey(text);
  try {
    if (duplicate !== null) throw new Error('duplicate');
    return JSON.parse(text);
  } catch {
    throw new LogRecordError(hint, `${where}: ${name} is not JSON with distinct keys`);
  }
}
