import type { Readable } from 'node:stream';

export interface StoredObjectInfo {
  key: string;
  sizeBytes: number;
  lastModified: Date;
}

export interface PutOptions {
  /**
   * Known size of the body. When given, a body of any other length is rejected and nothing is
   * stored; the S3 driver also uses it to pick a part size that stays under S3's 10,000 parts.
   */
  contentLength?: number;
  /** S3 Object Lock retain-until (only used when objectLockMode is set). */
  retainUntil?: Date;
  /** S3 Object Lock legal hold at write. */
  legalHold?: boolean;
}

export interface ByteRange {
  start: number;
  endInclusive: number;
}

/**
 * Where ciphertext lives. Keys look like `recordings/<tenant>/<uuid>` or `audit-anchors/<...>`
 * and are validated by every method (see keys.ts); an invalid key is a programming error and
 * throws a plain Error. Failures of the backing store surface as StorageUnavailableError, and
 * every failure is a StorageError (errors.ts).
 */
export interface ObjectStore {
  readonly driver: 'fs' | 's3';
  /** Objects are written under S3 Object Lock (retain-until, legal hold); the fs store has none. */
  readonly objectLock: boolean;
  /**
   * Atomic: either the whole body becomes visible under key, or nothing does. Rejects (and leaves
   * nothing) if body errors; the body's own error is rethrown unchanged. On any failure the body
   * stream is destroyed, as stream.pipeline does.
   */
  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<{ sizeBytes: number }>;
  /**
   * Streams bytes [start..endInclusive] (whole object when range omitted); an end past the last
   * byte is clamped to it, as HTTP ranges are. Throws ObjectNotFoundError when absent and
   * RangeOutsideObjectError when start is at or past the end of the object.
   */
  get(key: string, range?: ByteRange): Promise<Readable>;
  head(key: string): Promise<StoredObjectInfo | null>;
  /** Deletes every version of key; absent is success (idempotent, safe to retry). */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with prefix (plain string prefix, as S3). Order is unspecified. */
  list(prefix: string): AsyncIterable<StoredObjectInfo>;
  /** No-op unless object lock is configured (fs: no-op). */
  setLegalHold(key: string, on: boolean): Promise<void>;
  /** Throws StorageUnavailableError when unreachable; used by /readyz. */
  ping(): Promise<void>;
  /**
   * Stores that stage puts in temp files (fs) remove those older than `olderThanMs`, left behind
   * by a process that died mid-put, except those of puts to the keys in `keep`; returns how
   * many. S3 has no such files: the bucket's AbortIncompleteMultipartUpload rule collects
   * unfinished multipart uploads.
   */
  sweepTempFiles?(olderThanMs: number, keep?: ReadonlySet<string>): Promise<number>;
}

export { ObjectNotFoundError } from './errors.js';
