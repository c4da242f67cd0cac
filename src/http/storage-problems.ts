import { AppError, BadRequestError, DependencyError, RangeNotSatisfiableError } from '../errors.js';
import { RangeOutsideObjectError, type StorageError } from '../storage/errors.js';

/** The answer a client gets for a failure of the object store (src/storage/errors.ts). */
export function storageProblem(err: StorageError): AppError {
  switch (err.code) {
    case 'object_not_found': return new AppError(404, err.code, err.message);
    case 'range_not_satisfiable': return new RangeNotSatisfiableError(err instanceof RangeOutsideObjectError ? err.sizeBytes : 0);
    case 'content_length_mismatch': return new BadRequestError(err.message, err.code);
    case 'storage_unavailable': return new DependencyError('storage', err.message, err);
  }
}
