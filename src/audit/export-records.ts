import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CsvParser, type CsvCell } from './csv.js';
import { EXPORT_FIELDS } from './export.js';
import { LogLineReader } from './log-bytes.js';
import { parseLogCsvRecord } from './log-csv.js';
import { LOG_EXPORT_FIELDS, LogRecordError, parseExportLine, type ExportRecord } from './log-lines.js';
import { parseCsvRecord } from './parse.js';
import { AuditRecordError } from './rows.js';

/**
 * Reads an export file record by record, streaming: memory holds one chunk and one line,
 * whatever the size of the file. NDJSON and CSV are told apart by the first character; a CSV
 * header names either today's columns (epoch exports) or the per-log ones.
 */

const CHUNK_BYTES = 256 * 1024;
/** A checkpoint line is well under a kilobyte; the tail read allows for far more. */
const TAIL_BYTES = 64 * 1024;
const CHECKPOINT_PREFIX = '{"checkpoint":';

export type ExportFormat = 'ndjson' | 'csv';

async function* chunks(file: string): AsyncGenerator<string> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  try {
    let first = true;
    for await (const chunk of stream as AsyncIterable<string>) {
      yield first ? chunk.replace(/^\uFEFF/, '') : chunk;
      first = false;
    }
  } finally {
    stream.destroy();
  }
}

/** The start of a file (one read, byte-order mark removed). */
export async function firstChunk(file: string): Promise<string> {
  for await (const chunk of chunks(file)) if (chunk.length > 0) return chunk;
  return '';
}

/** The format of a file from its first character; null for an empty file. */
export async function exportFormat(file: string): Promise<ExportFormat | null> {
  const head = await firstChunk(file);
  return head === '' ? null : head.startsWith('{') ? 'ndjson' : 'csv';
}

/**
 * The signed note of the file's last line when that line is a checkpoint line, read from the
 * end of the file before the events are, so that inclusion proofs can be checked as they
 * stream past. Null when the last line is anything else (the streaming pass says what).
 */
export async function tailCheckpoint(file: string): Promise<string | null> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    let end = text.length;
    while (end > 0 && text[end - 1] === '\n') end -= 1;
    const line = text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
    if (!line.startsWith(CHECKPOINT_PREFIX)) return null;
    const doc = JSON.parse(line) as { checkpoint?: unknown };
    return typeof doc.checkpoint === 'string' ? doc.checkpoint : null;
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

/**
 * Records come in batches of up to BATCH_RECORDS lines: a million lines would otherwise cost a
 * million round trips through the async iteration machinery, more than parsing them, while a
 * whole chunk's worth of parsed events and canonical texts alive at once is what the garbage
 * collector spends its time copying. A record that fails to parse ends its batch early with the
 * records before it, then throws on the next pull.
 */
const BATCH_RECORDS = 64;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

async function* byteChunks(file: string): AsyncGenerator<Buffer> {
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  try {
    let first = true;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      yield first && chunk.subarray(0, 3).equals(BOM) ? chunk.subarray(3) : chunk;
      first = false;
    }
  } finally {
    stream.destroy();
  }
}

/**
 * NDJSON lines are split on their bytes. A line is read from its bytes (LogLineReader) when it
 * lies in a block of lines that is valid UTF-8, checked once per chunk; otherwise, and whenever
 * the byte reading leaves a line, it is decoded and read as text, exactly as before.
 */
async function* ndjsonRecords(file: string): AsyncGenerator<ExportRecord[]> {
  const reader = new LogLineReader();
  let pending: Buffer | null = null;
  let lineNo = 0;
  let failure: unknown = null;
  let batch: ExportRecord[] = [];
  const parse = (data: Buffer, start: number, end: number, utf8: boolean): void => {
    lineNo += 1;
    if (start === end || failure !== null) return;
    try {
      batch.push((utf8 ? reader.read(data, start, end) : null) ?? parseExportLine(data.toString('utf8', start, end), lineNo));
    } catch (err) {
      failure = err;
    }
  };
  const full = (): boolean => batch.length >= BATCH_RECORDS || failure !== null;
  for await (const chunk of byteChunks(file)) {
    const data: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
    const last = data.lastIndexOf(0x0a);
    const utf8 = isUtf8(data.subarray(0, last + 1));
    let start = 0;
    while (start <= last) {
      const nl = data.indexOf(0x0a, start);
      parse(data, start, nl, utf8);
      start = nl + 1;
      if (full()) {
        yield batch;
        batch = [];
        if (failure !== null) throw failure;
      }
    }
    pending = start < data.length ? data.subarray(start) : null;
  }
  if (pending !== null && pending.toString('utf8').trim().length > 0) parse(pending, 0, pending.length, isUtf8(pending));
  yield batch;
  if (failure !== null) throw failure;
}

type CsvShape = 'epoch' | 'log' | 'log-filtered';

function csvShape(header: readonly CsvCell[]): CsvShape {
  const names = header.map((c) => c.text).join(',');
  if (names === EXPORT_FIELDS.join(',')) return 'epoch';
  if (names === LOG_EXPORT_FIELDS.join(',')) return 'log';
  if (names === [...LOG_EXPORT_FIELDS, 'proof'].join(',')) return 'log-filtered';
  throw new LogRecordError(undefined, 'CSV header row is not an export header');
}

async function* csvRecords(file: string): AsyncGenerator<ExportRecord[]> {
  const parser = new CsvParser();
  let recordNo = 0;
  let shape: CsvShape | null = null;
  const take = function* (records: CsvCell[][]): Generator<ExportRecord> {
    for (const cells of records) {
      recordNo += 1;
      if (shape === null) {
        shape = csvShape(cells);
        continue;
      }
      yield shape === 'epoch' ? { kind: 'epoch', event: parseCsvRecord(cells, recordNo) } : parseLogCsvRecord(cells, recordNo, shape === 'log-filtered');
    }
  };
  for await (const chunk of chunks(file)) yield [...take(parser.push(chunk))];
  yield [...take(parser.end())];
}

/** Every record of an export file, in file order and in batches; a malformed record throws LogRecordError or AuditRecordError. */
export function exportRecords(file: string, format: ExportFormat): AsyncGenerator<ExportRecord[]> {
  return format === 'ndjson' ? ndjsonRecords(file) : csvRecords(file);
}

export function isRecordError(err: unknown): err is LogRecordError | AuditRecordError {
  return err instanceof LogRecordError || err instanceof AuditRecordError;
}
