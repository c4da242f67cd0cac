import { FsObjectStore } from './fs-store.js';
import type { S3ObjectStore } from './s3-store.js';

export { FsObjectStore, type FsObjectStoreOptions } from './fs-store.js';
export type { S3ObjectStore, S3ObjectStoreOptions, S3ClientOptions } from './s3-store.js';
export { assertValidKey } from './keys.js';
export {
  ContentLengthMismatchError, ObjectNotFoundError, RangeOutsideObjectError, StorageError, StorageUnavailableError,
} from './errors.js';
export {
  type ByteRange,
  type ObjectStore,
  type PutOptions,
  type StoredObjectInfo,
} from './types.js';

export type ObjectStoreConfig =
  | { driver: 'fs'; root: string }
  | {
      driver: 's3';
      bucket: string;
      region: string;
      endpoint?: string;
      forcePathStyle?: boolean;
      objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
      maxAttempts: number;
      connectTimeoutMs: number;
      requestTimeoutMs: number;
    };

/**
 * Builds the configured store. S3 credentials come from the SDK's default provider chain
 * (environment, shared config, instance or task role): none are accepted here, so none can leak
 * through configuration dumps. The result narrows on `driver`: the fs store also offers
 * sweepTempFiles, to be run at startup.
 */
export async function createObjectStore(cfg: ObjectStoreConfig): Promise<FsObjectStore | S3ObjectStore> {
  if (cfg.driver === 'fs') return new FsObjectStore({ root: cfg.root });
  // Loaded only when configured: the SDK is a large share of an idle vault's memory.
  const { createS3Client, S3ObjectStore: Store } = await import('./s3-store.js');
  const client = createS3Client({
    region: cfg.region,
    endpoint: cfg.endpoint,
    forcePathStyle: cfg.forcePathStyle,
    maxAttempts: cfg.maxAttempts,
    connectTimeoutMs: cfg.connectTimeoutMs,
    requestTimeoutMs: cfg.requestTimeoutMs,
  });
  return new Store({ client, bucket: cfg.bucket, objectLockMode: cfg.objectLockMode });
}
