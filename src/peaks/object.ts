import { hkdfSync } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createEncryptStream, createObjectDecryptStream, HEADER_BYTES, parseHeader, TAG_BYTES,
} from '../crypto/index.js';
import { IntegrityError } from '../errors.js';
import { readAll } from '../lib/read-all.js';

/**
 * The peaks object: a recording's waveform peaks (the JSON the API serves), sealed in the vault's
 * object format (docs/format.md) under a key derived from the recording's own data key. Deriving
 * rather than generating keeps one data key per recording: destroying its wrapped key (retention,
 * erasure, a PCI redaction) shreds the peaks with the audio, and key rotation rewraps both at once.
 * The peaks key is still a different key from the audio's, so every (key, nonce) pair stays unique
 * by construction. The recording's sha256 is bound into the associated data, so peaks computed
 * from another version of the recording never authenticate.
 */
const PEAKS_KEY_INFO = 'callvault/peaks/v1';
/** A peaks object is small by construction (2,048 columns per channel at most). */
export const MAX_PEAKS_OBJECT_BYTES = 8 * 1024 * 1024;

export interface PeaksSubject { readonly tenant: string; readonly id: string; readonly sha256: string }

export function peaksObjectKey(tenant: string, recordingId: string): string {
  return `peaks/${tenant}/${recordingId}`;
}

export const PEAKS_PREFIX = 'peaks/';

/** HKDF-SHA256(recording data key, no salt, "callvault/peaks/v1"), 32 bytes. */
export function derivePeaksKey(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), PEAKS_KEY_INFO, 32));
}

/** The string the object format binds into every segment's AAD in place of the recording id. */
export function peaksBinding(r: PeaksSubject): string {
  return `${r.id}/peaks/${r.sha256}`;
}

/** The sealed object for `plaintext`, as a stream for the object store. */
export function sealPeaks(plaintext: Buffer, key: Buffer, r: PeaksSubject): Readable {
  const seal = createEncryptStream({ key, recordingId: peaksBinding(r) });
  seal.end(plaintext);
  return seal;
}

/**
 * The plaintext size of a sealed object of `objectBytes`. Unlike a recording, whose size comes
 * from its row, the peaks object has no row; the size follows from the length alone because only
 * the true last segment is sealed as final: a cut or an extension moves which segment the reader
 * opens as final, and its tag fails.
 */
export function plaintextSizeOf(objectBytes: number, segmentSize: number): number {
  const body = objectBytes - HEADER_BYTES;
  const segments = Math.max(1, Math.ceil(body / (segmentSize + TAG_BYTES)));
  const size = body - segments * TAG_BYTES;
  if (body < TAG_BYTES || size < 0) throw new IntegrityError('The peaks object is too short');
  return size;
}

/** Authenticates and decrypts a whole peaks object; IntegrityError when it does not verify. */
export async function openPeaks(object: Buffer, key: Buffer, r: PeaksSubject): Promise<Buffer> {
  const { segmentSize } = parseHeader(object);
  const parts: Buffer[] = [];
  const open = createObjectDecryptStream({ key, recordingId: peaksBinding(r), plaintextSize: plaintextSizeOf(object.length, segmentSize) });
  await pipeline(Readable.from([object]), open, new Writable({ write(chunk: Buffer, _enc, done) { parts.push(chunk); done(); } }));
  return Buffer.concat(parts);
}

/** Reads a stored peaks object whole, refusing one larger than any peaks object can be. */
export function readPeaksObject(source: Readable): Promise<Buffer> {
  return readAll(source, MAX_PEAKS_OBJECT_BYTES, () => new IntegrityError('The peaks object is larger than any peaks object can be'));
}
