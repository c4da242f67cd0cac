export {
  HEADER_BYTES, TAG_BYTES, DEFAULT_SEGMENT_SIZE, FORMAT_VERSION, KEY_BYTES, MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE,
  parseHeader, ciphertextSize, segmentCount, cipherRangeFor,
  createEncryptStream, createDecryptStream, createObjectDecryptStream,
} from './format.js';
export type {
  Header, CipherRange, EncryptOptions, EncryptStream, DecryptOptions, ObjectDecryptOptions,
} from './format.js';
