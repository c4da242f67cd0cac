/**
 * What the object store reports, in its own terms: each failure a class with a stable `code`.
 * The store knows nothing of HTTP; the problem handler (src/http/problem.ts) turns these into
 * problem+json answers, and services may catch them by class.
 */
export type StorageErrorCode = 'object_not_found' | 'range_not_satisfiable' | 'storage_unavailable' | 'content_length_mismatch';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;

  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
  }
}

export class ObjectNotFoundError extends StorageError {
  readonly code = 'object_not_found';
  /** Kept off the message: keys name tenants, and messages may reach clients. */
  readonly key: string;
  constructor(key: string) {
    super('The stored object does not exist');
    this.key = key;
  }
}

/** A read starting at or past the end of the object. */
export class RangeOutsideObjectError extends StorageError {
  readonly code = 'range_not_satisfiable';
  constructor(readonly sizeBytes: number) {
    super('The requested range is outside the stored object');
  }
}

/** The backing store failed or could not be reached; a retry may succeed. */
export class StorageUnavailableError extends StorageError {
  readonly code = 'storage_unavailable';
}

/** A put whose body was longer or shorter than the length declared for it; nothing was stored. */
export class ContentLengthMismatchError extends StorageError {
  readonly code = 'content_length_mismatch';
  constructor(expected: number, seen: string) {
    super(`The body is ${seen} bytes, not the declared ${expected}`);
  }
}

export function storageFault(action: string, err: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`Object store failed to ${action}`, err);
}
