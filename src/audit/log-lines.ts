import { formatAt, jcs } from './canonical.js';
import { csvRecord, decodeCsvCell, encodeCsvText, type CsvCell } from './csv.js';
import { EXPORT_FIELDS } from './export.js';
import { parseCsvRecord, parseNdjsonLine, toEvent, type Fields } from './parse.js';
import type { AuditEvent, LogEvent } from './types.js';
import { duplicateJsonKey } from '../lib/json-keys.js';

/**
 * The lines of a per-log export (docs/audit.md, "Export"): one event per line, in the member
 * order below, `proof` only in filtered exports; the last line of an NDJSON export carries the
 * signed checkpoint the events are checked against. Events of the single-chain epoch keep the
 * line format of `ndjsonLine`. The CSV form has the same columns (epoch rows leave `log`,
 * `logSeq` and `recordingPrev` empty) and no checkpoint row: the checkpoint is a separate file.
 */

export const LOG_EXPORT_FIELDS = [
  'log', 'logSeq', 'seq', 'at', 'tenant', 'actorSub', 'actorRole', 'action', 'outcome', 'recordingId', 'recordingPrev',
  'linkId', 'ip', 'userAgent', 'requestId', 'details', 'prevHash', 'hash',
] as const;

/** The inclusion proof of leaf `logSeq - 1` in the tree of `treeSize` leaves, hashes as hex. */
export interface ProofJson {
  readonly treeSize: number;
  readonly hashes: readonly string[];
}

export type ExportRecord =
  | { readonly kind: 'epoch'; readonly event: AuditEvent }
  | { readonly kind: 'log'; readonly event: LogEvent; readonly proof: ProofJson | null; readonly canonical?: string }
  | { readonly kind: 'checkpoint'; readonly note: string };

/** A per-log line that is not what the exporter writes; verification fails at `logSeq`. */
export class LogRecordError extends Error {
  override readonly name = 'LogRecordError';
  constructor(readonly logSeq: number | undefined, message: string) { super(message); }
}

export function proofJson(treeSize: number, hashes: readonly Uint8Array[]): ProofJson {
  return { treeSize, hashes: hashes.map((h) => Buffer.from(h).toString('hex')) };
}

function proofText(p: ProofJson): string {
  return `{"treeSize":${p.treeSize},"hashes":[${p.hashes.map((h) => `"${h}"`).join(',')}]}`;
}

/**
 * The JSON text of every member of an event, computed once for both the export line and the
 * canonical encoding: the offline verifier rebuilds both for each line it reads, so this is
 * where its time goes. Strings and numbers are JSON.stringify'd, which is JCS for them.
 */
type Parts = Readonly<Record<(typeof LOG_EXPORT_FIELDS)[number], string>>;

function partsOf(e: LogEvent, atText = formatAt(e.at)): Parts {
  const s = JSON.stringify;
  return {
    log: s(e.log), logSeq: String(e.logSeq), seq: String(e.seq), at: `"${atText}"`, tenant: s(e.tenant), actorSub: s(e.actorSub),
    actorRole: s(e.actorRole), action: s(e.action), outcome: s(e.outcome), recordingId: s(e.recordingId),
    recordingPrev: s(e.recordingPrev), linkId: s(e.linkId), ip: s(e.ip), userAgent: s(e.userAgent), requestId: s(e.requestId),
    details: jcs(e.details), prevHash: s(e.prevHash), hash: s(e.hash),
  };
}

function lineOf(p: Parts, proof: ProofJson | null | undefined): string {
  return `{"log":${p.log},"logSeq":${p.logSeq},"seq":${p.seq},"at":${p.at},"tenant":${p.tenant},"actorSub":${p.actorSub},`
    + `"actorRole":${p.actorRole},"action":${p.action},"outcome":${p.outcome},"recordingId":${p.recordingId},`
    + `"recordingPrev":${p.recordingPrev},"linkId":${p.linkId},"ip":${p.ip},"userAgent":${p.userAgent},"requestId":${p.requestId},`
    + `"details":${p.details},"prevHash":${p.prevHash},"hash":${p.hash}${proof ? `,"proof":${proofText(proof)}` : ''}}\n`;
}

/** canonicalLogEvent (src/audit/canonical.ts) from the member texts: the same bytes, members in JCS order. */
function canonicalOf(p: Parts): string {
  return `{"action":${p.action},"actorRole":${p.actorRole},"actorSub":${p.actorSub},"at":${p.at},"details":${p.details},`
    + `"ip":${p.ip},"linkId":${p.linkId},"log":${p.log},"logSeq":${p.logSeq},"outcome":${p.outcome},"prevHash":${p.prevHash},`
    + `"recordingId":${p.recordingId},"recordingPrev":${p.recordingPrev},"requestId":${p.requestId},"tenant":${p.tenant},`
    + `"userAgent":${p.userAgent}}`;
}

export function logNdjsonLine(e: LogEvent, proof?: ProofJson | null): string {
  return lineOf(partsOf(e), proof);
}

/** The canonical encoding of a per-log event, equal to canonicalLogEvent's (test/audit/log-lines.test.ts). */
export function logCanonical(e: LogEvent): string {
  return canonicalOf(partsOf(e));
}

/** The last line of an NDJSON export: the signed note, exactly. */
export function checkpointLine(note: string): string {
  return `{"checkpoint":${JSON.stringify(note)}}\n`;
}

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

const LOG_HINT = /^\{"log":"(?:[^"\\]|\\.)*","logSeq":(\d{1,15})[,}]/;

function isProof(value: unknown): value is ProofJson {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const p = value as Record<string, unknown>;
  return Object.keys(p).length === 2 && typeof p.treeSize === 'number' && Number.isSafeInteger(p.treeSize) && p.treeSize > 0
    && Array.isArray(p.hashes) && p.hashes.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
}

/** Type checks of the per-log members, then of the rest as for an epoch event. */
function toLogEvent(f: Record<string, unknown>, where: string): LogEvent {
  const logSeq = f.logSeq;
  if (typeof logSeq !== 'number' || !Number.isSafeInteger(logSeq) || logSeq < 1) throw new LogRecordError(undefined, `${where}: logSeq is not a positive integer`);
  const bad = (what: string): LogRecordError => new LogRecordError(logSeq, `${where} (logSeq ${logSeq}): ${what}`);
  if (typeof f.log !== 'string' || f.log === '') throw bad('log is not an origin');
  const prev = f.recordingPrev;
  if (prev !== null && (typeof prev !== 'number' || !Number.isSafeInteger(prev) || prev < 1 || prev >= logSeq)) {
    throw bad('recordingPrev is neither null nor an earlier logSeq');
  }
  let event: { -readonly [K in keyof LogEvent]: LogEvent[K] };
  try {
    event = toEvent(f as Fields, where) as typeof event;
  } catch (err) {
    throw bad((err as Error).message);
  }
  event.log = f.log;
  event.logSeq = logSeq;
  event.recordingPrev = prev as number | null;
  return event;
}

function parseJsonLine(line: string, lineNo: number, hint: number | undefined): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new LogRecordError(hint, `line ${lineNo}: not valid JSON`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new LogRecordError(hint, `line ${lineNo}: not a JSON object`);
  return doc as Record<string, unknown>;
}

/**
 * One NDJSON line of an export. A per-log line must be byte for byte what the exporter writes
 * (member order, no spacing, canonical details): a reordered, repeated or reformatted member
 * is refused rather than quietly read one way and shown another.
 */
export function parseExportLine(line: string, lineNo: number): ExportRecord {
  if (line.startsWith('{"seq":')) return { kind: 'epoch', event: parseNdjsonLine(line, lineNo) };
  const hint = LOG_HINT.exec(line);
  const doc = parseJsonLine(line, lineNo, hint ? Number(hint[1]) : undefined);
  if (line.startsWith('{"checkpoint":')) {
    if (Object.keys(doc).length !== 1 || typeof doc.checkpoint !== 'string') throw new LogRecordError(undefined, `line ${lineNo}: malformed checkpoint line`);
    return { kind: 'checkpoint', note: doc.checkpoint };
  }
  if (!hint) throw new LogRecordError(undefined, `line ${lineNo}: neither an event nor a checkpoint`);
  const proof = doc.proof === undefined ? null : doc.proof;
  if (proof !== null && !isProof(proof)) throw new LogRecordError(Number(hint[1]), `line ${lineNo}: proof is not {treeSize, hashes}`);
  const event = toLogEvent(doc, `line ${lineNo}`);
  // `at` parsed only in its canonical form, so its text is what formatAt would write.
  const parts = partsOf(event, doc.at as string);
  if (lineOf(parts, proof) !== `${line}\n`) {
    throw new LogRecordError(event.logSeq, `line ${lineNo} (logSeq ${event.logSeq}): members are not exactly those the export writes, in its order and form`);
  }
  return { kind: 'log', event, proof, canonical: canonicalOf(parts) };
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
