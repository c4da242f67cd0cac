/**
 * The callvault object format, version 1: a segmented AES-256-GCM stream (docs/format.md).
 * layout.ts holds the byte arithmetic, the stream modules the sealing and opening.
 */
export {
  HEADER_BYTES, TAG_BYTES, DEFAULT_SEGMENT_SIZE, FORMAT_VERSION, KEY_BYTES, MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE,
  MAX_SEGMENTS, parseHeader, ciphertextSize, segmentCount, cipherRangeFor, segmentNonce,
} from './layout.js';
export type { Header, CipherRange } from './layout.js';
export { createEncryptStream } from './encrypt-stream.js';
export type { EncryptOptions, EncryptStream } from './encrypt-stream.js';
export { createDecryptStream, createObjectDecryptStream } from './decrypt-stream.js';
export type { DecryptOptions, ObjectDecryptOptions } from './decrypt-stream.js';
