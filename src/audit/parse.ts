import { createReadStream } from 'node:fs';
import { isHexHash, parseCanonicalAt } from './canonical.js';
import { CsvParser, decodeCsvCell, type CsvCell } from './csv.js';
import { EXPORT_FIELDS } from './export.js';
import { AuditRecordError } from './rows.js';
import type { AuditEvent } from './types.js';
import { duplicateJsonKey } from '../lib/json-keys.js';

/**
 * Reads an export file (NDJSON or CSV, told apart by the first character) back into events,
 * streaming. Anything that is not exactly what the exporter writes is an AuditRecordError:
 * verification must not quietly accept a reformatted field.
 */

export type Fields = Record<(typeof EXPORT_FIELDS)[number], unknown>;

const NULLABLE_TEXT = ['tenant', 'actorRole', 'recordingId', 'linkId', 'ip', 'userAgent', 'requestId'] as const;

/** Checks the types of an exported event's fields; extra fields are ignored. */
export function toEvent(f: Fields, where: string): AuditEvent {
  const seq = f.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new AuditRecordError(undefined, `${where}: seq is not a positive integer`);
  const bad = (what: string): AuditRecordError => new AuditRecordError(seq, `${where} (seq ${seq}): ${what}`);
  const at = typeof f.at === 'string' ? parseCanonicalAt(f.at) : null;
  if (!at) throw bad('"at" is not an RFC 3339 UTC timestamp with milliseconds');
  for (const name of NULLABLE_TEXT) if (f[name] !== null && typeof f[name] !== 'string') throw bad(`${name} is not a string or null`);
  for (const name of ['actorSub', 'action', 'outcome'] as const) if (typeof f[name] !== 'string') throw bad(`${name} is not a string`);
  if (!f.details || typeof f.details !== 'object' || Array.isArray(f.details)) throw bad('details is not an object');
  if (!isHexHash(f.prevHash) || !isHexHash(f.hash)) throw bad('prevHash or hash is not 64 lower-case hex digits');
  return {
    seq, at, tenant: f.tenant as string | null, actorSub: f.actorSub as string, actorRole: f.actorRole as string | null,
    action: f.action as string, outcome: f.outcome as string, recordingId: f.recordingId as string | null,
    linkId: f.linkId as string | null, ip: f.ip as string | null, userAgent: f.userAgent as string | null,
    requestId: f.requestId as string | null, details: f.details as Record<string, unknown>,
    prevHash: f.prevHash as string, hash: f.hash as string,
  };
}

function seqHint(text: string): number | undefined {
  const m = /^\{"seq":(\d{1,15})[,}]/.exec(text) ?? /^(\d{1,15}),/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function parseNdjsonLine(line: string, lineNo: number): AuditEvent {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new AuditRecordError(seqHint(line), `line ${lineNo}: not valid JSON`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new AuditRecordError(undefined, `line ${lineNo}: not a JSON object`);
  const duplicate = duplicateJsonKey(line);
  if (duplicate !== null) throw new AuditRecordError(seqHint(line), `line ${lineNo}: key ${JSON.stringify(duplicate)} appears twice in one object`);
  const keys = Object.keys(doc);
  if (keys.length !== EXPORT_FIELDS.length || !EXPORT_FIELDS.every((k) => Object.hasOwn(doc, k))) {
    throw new AuditRecordError(seqHint(line), `line ${lineNo}: fields are not exactly ${EXPORT_FIELDS.join(', ')}`);
  }
  return toEvent(doc as Fields, `line ${lineNo}`);
}

export function parseCsvRecord(cells: readonly CsvCell[], recordNo: number): AuditEvent {
  const where = `CSV record ${recordNo}`;
  const seqCell = cells[0];
  const seq = seqCell && !seqCell.quoted && /^\d{1,15}$/.test(seqCell.text) ? Number(seqCell.text) : undefined;
  if (cells.length !== EXPORT_FIELDS.length) throw new AuditRecordError(seq, `${where}: expected ${EXPORT_FIELDS.length} cells, found ${cells.length}`);
  const fields = {} as Record<string, unknown>;
  EXPORT_FIELDS.forEach((name, i) => { fields[name] = decodeCsvCell(cells[i] as CsvCell); });
  fields.seq = seq ?? Number.NaN;
  const details = fields.details;
  if (typeof details !== 'string') throw new AuditRecordError(seq, `${where}: details are missing`);
  try {
    fields.details = JSON.parse(details);
  } catch {
    throw new AuditRecordError(seq, `${where}: details are not JSON`);
  }
  const duplicate = duplicateJsonKey(details);
  if (duplicate !== null) throw new AuditRecordError(seq, `${where}: key ${JSON.stringify(duplicate)} appears twice in details`);
  return toEvent(fields as Fields, where);
}

async function* ndjsonEvents(chunks: AsyncIterable<string>, first: string): AsyncGenerator<AuditEvent> {
  let pending = first;
  let lineNo = 0;
  const take = function* (final: boolean): Generator<AuditEvent> {
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0 || (final && pending.length > 0)) {
      const line = nl >= 0 ? pending.slice(0, nl) : pending;
      pending = nl >= 0 ? pending.slice(nl + 1) : '';
      lineNo += 1;
      if (line.trim() === '') continue;
      yield parseNdjsonLine(line, lineNo);
    }
  };
  yield* take(false);
  for await (const chunk of chunks) {
    pending += chunk;
    yield* take(false);
  }
  yield* take(true);
}

async function* csvEvents(chunks: AsyncIterable<string>, first: string): AsyncGenerator<AuditEvent> {
  const parser = new CsvParser();
  let recordNo = 0;
  const take = function* (records: CsvCell[][]): Generator<AuditEvent> {
    for (const cells of records) {
      recordNo += 1;
      if (recordNo === 1) {
        if (cells.map((c) => c.text).join(',') !== EXPORT_FIELDS.join(',')) throw new AuditRecordError(undefined, 'CSV header row is not the export header');
        continue;
      }
      yield parseCsvRecord(cells, recordNo);
    }
  };
  yield* take(parser.push(first));
  for await (const chunk of chunks) yield* take(parser.push(chunk));
  yield* take(parser.end());
}

/** Events of an export file, in file order. */
export async function* readExportFile(file: string): AsyncGenerator<AuditEvent> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  try {
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
    const iterable: AsyncIterable<string> = { [Symbol.asyncIterator]: () => chunks };
    const head = await chunks.next();
    if (head.done) return;
    const first = head.value.replace(/^\uFEFF/, '');
    yield* first.startsWith('{') ? ndjsonEvents(iterable, first) : csvEvents(iterable, first);
  } finally {
    stream.destroy();
  }
}
