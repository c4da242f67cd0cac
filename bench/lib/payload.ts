/**
 * Generated recordings: a WAV header followed by bytes from a fixed random pool. Every figure and
 * its baseline read the same pool in the same chunk sizes, so they see the same bytes; nothing is
 * ever held whole in memory, and nothing is committed.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const WAV_HEADER_BYTES = 44;
/** Chunk size of every generated stream: what fs and sockets hand out in practice. */
export const CHUNK_BYTES = 64 * 1024;

const POOL_BYTES = 4 * MiB;
let pool: Buffer | undefined;

function thePool(): Buffer {
  pool ??= randomBytes(POOL_BYTES);
  return pool;
}

export interface WavFormat {
  /** 1 = PCM, 7 = G.711 mu-law. */
  readonly audioFormat: 1 | 7;
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
}

/** G.711 mu-law, 8 kHz mono: 8,000 bytes a second. */
export const G711: WavFormat = { audioFormat: 7, sampleRate: 8000, channels: 1, bitsPerSample: 8 };

export function wavHeader(dataBytes: number, f: WavFormat = G711): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const blockAlign = (f.channels * f.bitsPerSample) / 8;
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(f.audioFormat, 20);
  h.writeUInt16LE(f.channels, 22);
  h.writeUInt32LE(f.sampleRate, 24);
  h.writeUInt32LE(f.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(f.bitsPerSample, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return h;
}

/** `total` bytes of pool data in CHUNK_BYTES slices (views, never copies). */
export function* poolChunks(total: number, chunk = CHUNK_BYTES): Generator<Buffer> {
  const p = thePool();
  let offset = 0;
  let sent = 0;
  while (sent < total) {
    const n = Math.min(chunk, total - sent, p.length - offset);
    yield p.subarray(offset, offset + n);
    sent += n;
    offset = (offset + n) % p.length;
  }
}

/** A whole WAV recording of `totalBytes` (header included), as chunks. */
export function* wavChunks(totalBytes: number, format: WavFormat = G711): Generator<Buffer> {
  yield wavHeader(totalBytes - WAV_HEADER_BYTES, format);
  yield* poolChunks(totalBytes - WAV_HEADER_BYTES);
}

export function wavStream(totalBytes: number, format: WavFormat = G711): Readable {
  return Readable.from(wavChunks(totalBytes, format), { objectMode: false });
}

/** A small recording held in memory, for the many-uploads figures. */
export function wavBuffer(totalBytes: number, format: WavFormat = G711): Buffer {
  return Buffer.concat([...wavChunks(totalBytes, format)]);
}
