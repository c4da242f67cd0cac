import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectLegalHoldCommand,
  S3Client,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline, Readable } from 'node:stream';
import { ContentLengthMismatchError, ObjectNotFoundError, RangeOutsideObjectError, StorageUnavailableError, storageFault } from './errors.js';
import { assertValidContentLength, assertValidKey, assertValidPrefix, assertValidRange } from './keys.js';
import { isNotFound, isUnsupported, isInvalidRange } from './s3-errors.js';
import { ByteCounter, isBodyFailure, relay, watchBody } from './streams.js';
import {
  type ByteRange,
  type ObjectStore,
  type PutOptions,
  type StoredObjectInfo,
} from './types.js';

const MIB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MIB; // S3's floor for every part but the last
const MAX_PARTS = 10_000;

export interface S3ClientOptions {
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: S3ClientConfig['credentials'];
  maxAttempts: number;
  connectTimeoutMs: number;
  /** Deadline for one request to be sent and its response headers to arrive (not for a body being read). */
  requestTimeoutMs: number;
}

export function createS3Client(opts: S3ClientOptions): S3Client {
  return new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle,
    credentials: opts.credentials,
    maxAttempts: opts.maxAttempts,
    // The SDK's default (WHEN_SUPPORTED) adds a CRC32 to every upload by re-framing streamed bodies
    // with aws-chunked encoding, which several S3-compatible stores (s3rver among them) store
    // verbatim, corrupting the object without any error. Integrity does not depend on it: every
    // object is AES-GCM ciphertext whose tags are checked on each read, so a corrupted byte fails
    // decryption. Checksums are still sent where S3 requires one (Object Lock writes, below).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Options object: the SDK builds its NodeHttpHandler from it. Without throwOnRequestTimeout a
    // breached requestTimeout only logs a warning.
    requestHandler: {
      connectionTimeout: opts.connectTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Set when the bucket has S3 Object Lock enabled; puts then carry retention and legal hold. */
  objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  /** Multipart part size, default 8 MiB, minimum 5 MiB. Memory per put is about (queueSize + 1) parts. */
  partSizeBytes?: number;
  /** Parts uploaded in parallel per put, default 2. */
  queueSize?: number;
}

/**
 * Objects in one S3 (or S3-compatible) bucket. Puts go through lib-storage's Upload: a body larger
 * than one part becomes a multipart upload that S3 only makes visible on completion, so a put is
 * atomic on S3 too.
 */
export class S3ObjectStore implements ObjectStore {
  readonly driver = 's3' as const;
  readonly bucket: string;
  readonly objectLock: boolean;
  private readonly client: S3Client;
  private readonly objectLockMode: 'GOVERNANCE' | 'COMPLIANCE' | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    if (!options.bucket) throw new Error('S3ObjectStore needs a bucket');
    this.client = options.client;
    this.bucket = options.bucket;
    this.objectLockMode = options.objectLockMode;
    this.objectLock = options.objectLockMode !== undefined;
    this.partSize = options.partSizeBytes ?? 8 * MIB;
    this.queueSize = options.queueSize ?? 2;
    if (this.partSize < MIN_PART_SIZE) throw new Error(`partSizeBytes must be at least ${MIN_PART_SIZE}`);
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) throw new Error('queueSize must be a positive integer');
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ sizeBytes: number }> {
    assertValidKey(key);
    assertValidContentLength(opts.contentLength);
    if (Buffer.isBuffer(body) && opts.contentLength !== undefined && opts.contentLength !== body.length) {
      throw new ContentLengthMismatchError(opts.contentLength, String(body.length));
    }
    // The counter enforces contentLength before the upload commits (see ByteCounter).
    const counter = Buffer.isBuffer(body) ? undefined : pipeline(body, new ByteCounter(opts.contentLength), () => undefined);
    const bodyState = Buffer.isBuffer(body) ? undefined : watchBody(body);
    try {
      await this.upload(key, counter ?? body, opts);
    } catch (err) {
      counter?.destroy();
      throw isBodyFailure(err, bodyState?.error) ? err : storageFault('store an object', err);
    }
    return { sizeBytes: Buffer.isBuffer(body) ? body.length : (counter?.bytes ?? 0) };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    if (range) assertValidRange(range);
    const Range = range ? `bytes=${range.start}-${range.endInclusive}` : undefined;
    let response;
    try {
      response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range }));
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      if (range && isInvalidRange(err)) throw await this.rangeError(key);
      throw storageFault('read an object', err);
    }
    const body = response.Body;
    if (!(body instanceof Readable)) throw storageFault('read an object', new Error('GetObject answered without a stream'));
    if (range && !response.ContentRange?.startsWith(`bytes ${range.start}-`)) {
      body.destroy();
      throw storageFault('read an object', new Error(`Asked for ${Range}, got Content-Range ${response.ContentRange ?? 'none'}`));
    }
    // Capped to the range asked for: some S3-compatible stores answer `bytes=0-0` with everything.
    const limit = range ? range.endInclusive - range.start + 1 : undefined;
    return relay(body, limit, (err) => storageFault('read an object', err));
  }

  async head(key: string): Promise<StoredObjectInfo | null> {
    assertValidKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, sizeBytes: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageFault('stat an object', err);
    }
  }

  /**
   * Deletes each version and delete marker of key by VersionId (a versioned bucket, which every
   * Object Lock bucket is, keeps the bytes of a plainly deleted object as a noncurrent version).
   * A plain DeleteObject follows only when the object is still visible, e.g. on a store without
   * ListObjectVersions: in a versioned bucket it would only add a delete marker. With Object Lock
   * nothing is bypassed: retention deletes after retainUntil, when the lock has expired.
   */
  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const versionIds = await this.listVersionIds(key);
    for (const versionId of versionIds ?? []) await this.deleteOne(key, versionId);
    if (versionIds === null || (await this.head(key)) !== null) await this.deleteOne(key, undefined);
  }

  async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    assertValidPrefix(prefix);
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken }));
      } catch (err) {
        throw storageFault('list objects', err);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key, sizeBytes: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    assertValidKey(key);
    if (!this.objectLockMode) return;
    try {
      await this.client.send(new PutObjectLegalHoldCommand({
        Bucket: this.bucket,
        Key: key,
        LegalHold: { Status: on ? 'ON' : 'OFF' },
        ChecksumAlgorithm: 'SHA256',
      }));
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      throw storageFault('set a legal hold', err);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw new StorageUnavailableError('Object store bucket is not reachable', err);
    }
  }

  /**
   * Parts are buffers, so memory stays near (queueSize + 1) * partSize whatever the body's size.
   * On failure the multipart upload is aborted here rather than by lib-storage, whose own abort
   * would replace the original error with the abort's if that failed too; parts an abort could not
   * remove stay invisible and are collected by the bucket's AbortIncompleteMultipartUpload rule.
   */
  private async upload(key: string, body: Readable | Buffer, opts: PutOptions): Promise<void> {
    const partSize = Math.max(this.partSize, Math.ceil((opts.contentLength ?? 0) / MAX_PARTS));
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/octet-stream',
      ...this.lockParams(opts),
    };
    const upload = new Upload({ client: this.client, params, partSize, queueSize: this.queueSize, leavePartsOnError: true });
    try {
      await upload.done();
    } catch (err) {
      if (upload.uploadId !== undefined) {
        const abort = new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId });
        await this.client.send(abort).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * S3 rejects Object Lock writes that carry neither Content-MD5 nor a checksum, so with a lock
   * mode every write names SHA256: the SDK then checksums each part (and lib-storage passes the
   * part checksums on to CompleteMultipartUpload). Mode and retain-until only travel together,
   * as S3 requires; without retainUntil the bucket's default retention applies.
   */
  private lockParams(opts: PutOptions): Partial<PutObjectCommandInput> {
    if (!this.objectLockMode) return {};
    return {
      ChecksumAlgorithm: 'SHA256',
      ...(opts.retainUntil && { ObjectLockMode: this.objectLockMode, ObjectLockRetainUntilDate: opts.retainUntil }),
      ...(opts.legalHold && { ObjectLockLegalHoldStatus: 'ON' as const }),
    };
  }

  /** VersionIds of every version and delete marker of exactly `key`; null when the store can't list versions. */
  private async listVersionIds(key: string): Promise<string[] | null> {
    const ids: string[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker, VersionIdMarker }));
      } catch (err) {
        if (isUnsupported(err)) return null;
        throw storageFault('list object versions', err);
      }
      for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (entry.Key === key && entry.VersionId !== undefined) ids.push(entry.VersionId);
      }
      // Keys sort after their prefixes, so once the marker passes `key` no version of it remains.
      if (!page.IsTruncated || page.NextKeyMarker === undefined || page.NextKeyMarker > key) return ids;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
  }

  private async deleteOne(key: string, versionId: string | undefined): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
    } catch (err) {
      if (!isNotFound(err)) throw storageFault('delete an object', err);
    }
  }

  private async rangeError(key: string): Promise<Error> {
    const info = await this.head(key);
    return info ? new RangeOutsideObjectError(info.sizeBytes) : new ObjectNotFoundError(key);
  }
}
