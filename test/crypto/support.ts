import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  HEADER_BYTES, cipherRangeFor, createDecryptStream, createEncryptStream, createObjectDecryptStream,
} from '../../src/crypto/index.js';

import { FIXTURE_DIR } from '../helpers/fixtures.js';

export { FIXTURE_DIR };
export { FIXTURE_FILES as FIXTURES } from '../helpers/fixtures.js';

export const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

/** Splits `buf` into chunks cycling through `sizes`, so stream code sees awkward boundaries. */
export function* chunked(buf: Buffer, sizes: readonly number[] = [buf.length || 1]): Generator<Buffer> {
  let off = 0;
  let i = 0;
  while (off < buf.length) {
    const n = sizes[i++ % sizes.length] ?? 1;
    yield buf.subarray(off, off + n);
    off += n;
  }
}

export interface Outcome { output: Buffer; error: unknown }

/** Pipes `input` through `stream`, keeping whatever was emitted before any error. */
export async function runThrough(stream: Transform, input: Iterable<Buffer> | Readable): Promise<Outcome> {
  const parts: Buffer[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { parts.push(chunk); cb(); } });
  const source = input instanceof Readable ? input : Readable.from(input, { objectMode: false });
  let error: unknown = null;
  try {
    await pipeline(source, stream, sink);
  } catch (err) {
    error = err;
  }
  return { output: Buffer.concat(parts), error };
}

async function mustRun(stream: Transform, input: Iterable<Buffer> | Readable): Promise<Buffer> {
  const { output, error } = await runThrough(stream, input);
  if (error !== null) throw error;
  return output;
}

export interface Sealed { object: Buffer; key: Buffer; recordingId: string; header: Buffer }

export async function seal(
  plaintext: Buffer | Readable, opts: { segmentSize?: number; key?: Buffer; recordingId?: string; chunks?: number[] } = {},
): Promise<Sealed> {
  const key = opts.key ?? randomBytes(32);
  const recordingId = opts.recordingId ?? 'rec-0001';
  const enc = createEncryptStream({ key, recordingId, segmentSize: opts.segmentSize });
  const input = Buffer.isBuffer(plaintext) ? chunked(plaintext, opts.chunks) : plaintext;
  const object = await mustRun(enc, input);
  return { object, key, recordingId, header: enc.header };
}

export const sealFile = (name: string, segmentSize?: number): Promise<Sealed> =>
  seal(createReadStream(`${FIXTURE_DIR}/${name}`), { segmentSize });

export function openObject(
  object: Buffer, opts: { key: Buffer; recordingId: string; plaintextSize: number }, chunks?: number[],
): Promise<Buffer> {
  return mustRun(createObjectDecryptStream(opts), chunked(object, chunks));
}

/** Reads plaintext [start..end] the way the media route does: header, then only the touched segments. */
export function openRange(
  sealed: Sealed, plaintextSize: number, start: number, endInclusive: number, chunks?: number[],
): Promise<Buffer> {
  const { key, recordingId, object } = sealed;
  const header = object.subarray(0, HEADER_BYTES);
  const segmentSize = header.readUInt32BE(5);
  const r = cipherRangeFor(plaintextSize, segmentSize, start, endInclusive);
  const stream = createDecryptStream({ key, recordingId, header, plaintextSize, start, endInclusive });
  return mustRun(stream, chunked(object.subarray(r.cipherStart, r.cipherEndInclusive + 1), chunks));
}
