/**
 * Faults of the object store, in storage terms. They are not HTTP errors: the HTTP layer
 * (src/http/problem.ts, `problemOf`) decides what a client sees for each.
 */
export class StorageError extends Error {
  readonly code: 'object_not_found' | 'range_outside_object' | 'content_length_mismatch' | 'storage_unavailable';
  constructor(code: StorageError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
  }
}

export class ObjectNotFoundError extends StorageError {
  /** Kept off the message: keys name tenants, and messages may reach clients. */
  readonly key: string;
  constructor(key: string) {
    super('object_not_found', 'The stored object does not exist');
    this.key = key;
  }
}

/** A range that starts at or beyond the end of an object of `sizeBytes`. */
export class RangeOutsideObjectError extends StorageError {
  constructor(readonly sizeBytes: number) {
    super('range_outside_object', 'The requested range is outside the object');
  }
}

/** The body written differs in length from the declared contentLength. */
export class ContentLengthMismatchError extends StorageError {
  constructor(expected: number, seen: number | string) {
    super('content_length_mismatch', `The body is ${seen} bytes, not the declared ${expected}`);
  }
}

/** The store itself failed (network, permissions, disk); retrying may help. */
export class StorageUnavailableError extends StorageError {
  constructor(message: string, cause?: unknown) {
    super('storage_unavailable', message, cause);
  }
}

export function storageFault(action: string, err: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`Object store failed to ${action}`, err);
}
