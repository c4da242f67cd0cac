/**
 * Byte layout of a callvault object (docs/format.md): a 16-byte header followed by AES-256-GCM
 * segments. Everything here is pure arithmetic over sizes and offsets, so that a reader can map
 * any plaintext byte range onto the ciphertext bytes it must fetch without touching the object.
 */
import { randomBytes } from 'node:crypto';
import { IntegrityError } from '../errors.js';

export const HEADER_BYTES = 16;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_PREFIX_BYTES = 7;
export const DEFAULT_SEGMENT_SIZE = 65536;
export const MIN_SEGMENT_SIZE = 4096;
export const MAX_SEGMENT_SIZE = 8 * 1024 * 1024;
export const FORMAT_VERSION = 1;
/** The segment counter is a u32 in the nonce, so an object holds at most 2^32 segments. */
export const MAX_SEGMENTS = 2 ** 32;

const MAGIC = Buffer.from('CVLT', 'ascii');
const NONCE_BYTES = 12;

export interface Header {
  version: number;
  segmentSize: number;
  noncePrefix: Buffer;
}

export interface CipherRange {
  firstSegment: number;
  lastSegment: number;
  /** Offset in the object (header included) of the first byte of `firstSegment`. */
  cipherStart: number;
  /** Offset in the object of the last byte (tag included) of `lastSegment`. */
  cipherEndInclusive: number;
}

export function assertSegmentSize(segmentSize: number): void {
  if (!Number.isInteger(segmentSize) || segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new RangeError(`segment size must be an integer in [${MIN_SEGMENT_SIZE}, ${MAX_SEGMENT_SIZE}]`);
  }
}

export function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new TypeError(`data key must be a ${KEY_BYTES}-byte Buffer`);
  }
}

export function assertRecordingId(recordingId: string): void {
  if (typeof recordingId !== 'string' || recordingId.length === 0) {
    throw new TypeError('recordingId must be a non-empty string');
  }
}

export function assertPlaintextSize(plaintextSize: number): void {
  if (!Number.isSafeInteger(plaintextSize) || plaintextSize < 0) {
    throw new RangeError('plaintext size must be a non-negative safe integer');
  }
}

/** A fresh header with a random nonce prefix; the prefix is what keeps nonces unique per object. */
export function createHeader(segmentSize: number): Buffer {
  assertSegmentSize(segmentSize);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(FORMAT_VERSION, 4);
  header.writeUInt32BE(segmentSize, 5);
  randomBytes(NONCE_PREFIX_BYTES).copy(header, 9);
  return header;
}

/**
 * Reads the first 16 bytes of `buf`. A header that does not parse is treated as tampering: the
 * object store only ever holds objects this code wrote.
 */
export function parseHeader(buf: Buffer): Header {
  if (buf.length < HEADER_BYTES) throw new IntegrityError('Object header is truncated');
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new IntegrityError('Object header has an unknown magic');
  const version = buf.readUInt8(4);
  if (version !== FORMAT_VERSION) throw new IntegrityError(`Object format version ${version} is not supported`);
  const segmentSize = buf.readUInt32BE(5);
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new IntegrityError('Object header has an invalid segment size');
  }
  return { version, segmentSize, noncePrefix: Buffer.from(buf.subarray(9, HEADER_BYTES)) };
}

/** n = max(1, ceil(P / S)): an empty plaintext still has one (empty, authenticated) final segment. */
export function segmentCount(plaintextSize: number, segmentSize: number): number {
  assertPlaintextSize(plaintextSize);
  assertSegmentSize(segmentSize);
  const n = Math.max(1, Math.ceil(plaintextSize / segmentSize));
  if (n > MAX_SEGMENTS) throw new RangeError(`plaintext needs more than ${MAX_SEGMENTS} segments`);
  return n;
}

export function ciphertextSize(plaintextSize: number, segmentSize: number): number {
  return HEADER_BYTES + plaintextSize + TAG_BYTES * segmentCount(plaintextSize, segmentSize);
}

/** Plaintext length of segment `index`; only the final segment may be shorter than S. */
export function segmentPlaintextSize(plaintextSize: number, segmentSize: number, index: number): number {
  const n = segmentCount(plaintextSize, segmentSize);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError('segment index out of range');
  return index === n - 1 ? plaintextSize - index * segmentSize : segmentSize;
}

/** Offset in the object of segment `index`; every segment before it is full (S + tag bytes). */
export function segmentOffset(segmentSize: number, index: number): number {
  return HEADER_BYTES + index * (segmentSize + TAG_BYTES);
}

export function cipherRangeFor(plaintextSize: number, segmentSize: number, start: number, endInclusive: number): CipherRange {
  assertPlaintextSize(plaintextSize);
  assertPlaintextRange(plaintextSize, start, endInclusive);
  const firstSegment = Math.floor(start / segmentSize);
  const lastSegment = Math.floor(endInclusive / segmentSize);
  const lastSize = segmentPlaintextSize(plaintextSize, segmentSize, lastSegment);
  return {
    firstSegment,
    lastSegment,
    cipherStart: segmentOffset(segmentSize, firstSegment),
    cipherEndInclusive: segmentOffset(segmentSize, lastSegment) + lastSize + TAG_BYTES - 1,
  };
}

export function assertPlaintextRange(plaintextSize: number, start: number, endInclusive: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endInclusive)
    || start < 0 || start > endInclusive || endInclusive >= plaintextSize) {
    throw new RangeError(`byte range ${start}-${endInclusive} is outside a ${plaintextSize}-byte plaintext`);
  }
}

/** nonce = prefix(7) || u32 BE segment index || last flag; unique per (object, index, finality). */
export function segmentNonce(noncePrefix: Buffer, index: number, last: boolean): Buffer {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SEGMENTS) {
    throw new RangeError(`segment index ${index} overflows the 32-bit segment counter`);
  }
  if (noncePrefix.length !== NONCE_PREFIX_BYTES) throw new TypeError('nonce prefix must be 7 bytes');
  const nonce = Buffer.allocUnsafe(NONCE_BYTES);
  noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_BYTES);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}

/** AAD binds every segment to the full header and to the recording, so objects can't be swapped. */
export function associatedData(header: Buffer, recordingId: string): Buffer {
  return Buffer.concat([header.subarray(0, HEADER_BYTES), Buffer.from(recordingId, 'utf8')]);
}
