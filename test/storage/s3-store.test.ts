import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand,
  PutObjectLegalHoldCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { toAppError } from '../../src/http/problem.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/s3-store.js';
import { ObjectNotFoundError, RangeOutsideObjectError, StorageUnavailableError } from '../../src/storage/errors.js';
import { FakeS3Client, s3Error } from './fake-s3-client.js';
import { MIB, generatedBody, readAll } from './support.js';

const KEY = 'recordings/acme/3f1c2b9a-0000-4000-8000-000000000001';
const RETAIN_UNTIL = new Date('2031-01-02T03:04:05.000Z');

function setup(opts: Partial<Omit<S3ObjectStoreOptions, 'client' | 'bucket'>> = {}): { fake: FakeS3Client; store: S3ObjectStore } {
  const fake = new FakeS3Client()
    .on(CreateMultipartUploadCommand, () => ({ UploadId: 'upload-1' }))
    .on(UploadPartCommand, (input) => ({ ETag: `"etag-${input.PartNumber}"` }))
    .on(HeadObjectCommand, () => { throw s3Error('NotFound', 404); });
  const store = new S3ObjectStore({ client: fake.asClient(), bucket: 'vault', partSizeBytes: 5 * MIB, ...opts });
  return { fake, store };
}

function assertLocked(input: object, mode: string, label: string): void {
  assert.deepEqual(
    Object.fromEntries(Object.entries(input).filter(([k]) => k.startsWith('ObjectLock') || k === 'ChecksumAlgorithm')),
    { ObjectLockMode: mode, ObjectLockRetainUntilDate: RETAIN_UNTIL, ObjectLockLegalHoldStatus: 'ON', ChecksumAlgorithm: 'SHA256' },
    label,
  );
}

describe('S3ObjectStore with Object Lock', () => {
  test('a single-part put carries mode, retain-until, legal hold and a SHA-256 checksum', async () => {
    const { fake, store } = setup({ objectLockMode: 'COMPLIANCE' });
    await store.put(KEY, Buffer.from('small ciphertext'), { retainUntil: RETAIN_UNTIL, legalHold: true });
    const [put] = fake.inputs(PutObjectCommand);
    assert.ok(put);
    assert.equal(put.Key, KEY);
    assert.equal(put.Bucket, 'vault');
    assertLocked(put, 'COMPLIANCE', 'PutObject');
    assert.deepEqual(fake.inputs(CreateMultipartUploadCommand), []);
  });

  test('a multipart put carries them on CreateMultipartUpload and checksums every part', async () => {
    const { fake, store } = setup({ objectLockMode: 'GOVERNANCE' });
    const body = generatedBody(11 * MIB);
    const { sizeBytes } = await store.put(KEY, body.stream, { retainUntil: RETAIN_UNTIL, legalHold: true });
    assert.equal(sizeBytes, 11 * MIB);
    const [create] = fake.inputs(CreateMultipartUploadCommand);
    assert.ok(create);
    assertLocked(create, 'GOVERNANCE', 'CreateMultipartUpload');
    const parts = fake.inputs(UploadPartCommand);
    assert.deepEqual(parts.map((p) => p.PartNumber).sort(), [1, 2, 3]);
    assert.ok(parts.every((p) => p.ChecksumAlgorithm === 'SHA256' && p.UploadId === 'upload-1'));
    const [complete] = fake.inputs(CompleteMultipartUploadCommand);
    assert.deepEqual(complete?.MultipartUpload?.Parts?.map((p) => p.PartNumber), [1, 2, 3]);
    assert.deepEqual(fake.inputs(PutObjectCommand), []);
  });

  test('mode travels only with a retain-until date; the checksum always does', async () => {
    const { fake, store } = setup({ objectLockMode: 'COMPLIANCE' });
    await store.put(KEY, Buffer.from('x'));
    const [put] = fake.inputs(PutObjectCommand);
    assert.equal(put?.ChecksumAlgorithm, 'SHA256');
    assert.equal(put?.ObjectLockMode, undefined);
    assert.equal(put?.ObjectLockRetainUntilDate, undefined);
    assert.equal(put?.ObjectLockLegalHoldStatus, undefined);
  });

  test('without a lock mode, puts carry no lock fields and legal holds send nothing', async () => {
    const { fake, store } = setup();
    await store.put(KEY, Buffer.from('x'), { retainUntil: RETAIN_UNTIL, legalHold: true });
    const [put] = fake.inputs(PutObjectCommand);
    assert.ok(put);
    assert.equal(put.ObjectLockMode, undefined);
    assert.equal(put.ObjectLockLegalHoldStatus, undefined);
    assert.equal(put.ChecksumAlgorithm, undefined);
    await store.setLegalHold(KEY, true);
    assert.deepEqual(fake.inputs(PutObjectLegalHoldCommand), []);
  });

  test('setLegalHold sends PutObjectLegalHold with Status ON, then OFF', async () => {
    const { fake, store } = setup({ objectLockMode: 'COMPLIANCE' });
    await store.setLegalHold(KEY, true);
    await store.setLegalHold(KEY, false);
    const holds = fake.inputs(PutObjectLegalHoldCommand);
    assert.deepEqual(holds.map((h) => [h.Bucket, h.Key, h.LegalHold?.Status]), [['vault', KEY, 'ON'], ['vault', KEY, 'OFF']]);
    fake.on(PutObjectLegalHoldCommand, () => { throw s3Error('NoSuchKey', 404); });
    await assert.rejects(store.setLegalHold(KEY, true), ObjectNotFoundError);
  });
});

describe('S3ObjectStore delete', () => {
  test('deletes every version and delete marker of exactly the key, bypassing nothing', async () => {
    const { fake, store } = setup({ objectLockMode: 'COMPLIANCE' });
    fake.on(ListObjectVersionsCommand, () => ({
      Versions: [{ Key: KEY, VersionId: 'v2' }, { Key: KEY, VersionId: 'v1' }, { Key: `${KEY}-other`, VersionId: 'x' }],
      DeleteMarkers: [{ Key: KEY, VersionId: 'dm1' }],
      IsTruncated: false,
    }));
    await store.delete(KEY);
    const deletes = fake.inputs(DeleteObjectCommand);
    assert.deepEqual(deletes.map((d) => [d.Key, d.VersionId]), [[KEY, 'v2'], [KEY, 'v1'], [KEY, 'dm1']]);
    assert.ok(deletes.every((d) => d.BypassGovernanceRetention === undefined));
    assert.equal(fake.inputs(ListObjectVersionsCommand)[0]?.Prefix, KEY);
  });

  test('follows ListObjectVersions pages', async () => {
    const { fake, store } = setup();
    fake.on(ListObjectVersionsCommand, (_input, call) => (call === 1
      ? { Versions: [{ Key: KEY, VersionId: 'v1' }, { Key: KEY, VersionId: 'v2' }], IsTruncated: true, NextKeyMarker: KEY, NextVersionIdMarker: 'v2' }
      : { Versions: [{ Key: KEY, VersionId: 'v3' }], IsTruncated: false }));
    await store.delete(KEY);
    assert.deepEqual(fake.inputs(DeleteObjectCommand).map((d) => d.VersionId), ['v1', 'v2', 'v3']);
    const lists = fake.inputs(ListObjectVersionsCommand);
    assert.deepEqual([lists[1]?.KeyMarker, lists[1]?.VersionIdMarker], [KEY, 'v2']);
  });

  test('falls back to a plain DeleteObject where versions cannot be listed', async () => {
    const { fake, store } = setup();
    fake.on(ListObjectVersionsCommand, () => { throw s3Error('MethodNotAllowed', 405); });
    await store.delete(KEY);
    assert.deepEqual(fake.inputs(DeleteObjectCommand).map((d) => [d.Key, d.VersionId]), [[KEY, undefined]]);
  });

  test('sends a plain DeleteObject too when the object is still visible after its versions', async () => {
    const { fake, store } = setup();
    fake.on(ListObjectVersionsCommand, () => ({ IsTruncated: false }));
    fake.on(HeadObjectCommand, (_input, call) => {
      if (call === 1) return { ContentLength: 3, LastModified: new Date() };
      throw s3Error('NotFound', 404);
    });
    await store.delete(KEY);
    assert.deepEqual(fake.inputs(DeleteObjectCommand).map((d) => d.VersionId), [undefined]);
  });

  test('NoSuchKey is success; a store fault is a StorageUnavailableError', async () => {
    const { fake, store } = setup();
    fake.on(ListObjectVersionsCommand, () => ({ Versions: [{ Key: KEY, VersionId: 'v1' }] }));
    fake.on(DeleteObjectCommand, () => { throw s3Error('NoSuchKey', 404); });
    await store.delete(KEY);
    const broken = setup().fake.on(ListObjectVersionsCommand, () => { throw s3Error('InternalError', 500); });
    await assert.rejects(new S3ObjectStore({ client: broken.asClient(), bucket: 'vault' }).delete(KEY), StorageUnavailableError);
  });
});

describe('S3ObjectStore failures', () => {
  test('a failed part aborts the multipart upload and rejects with StorageUnavailableError, even if the abort fails', async () => {
    const { fake, store } = setup();
    fake.on(UploadPartCommand, (input) => {
      if (input.PartNumber === 2) throw s3Error('InternalError', 500);
      return { ETag: '"ok"' };
    });
    fake.on(AbortMultipartUploadCommand, () => { throw s3Error('MethodNotAllowed', 405); });
    await assert.rejects(store.put(KEY, generatedBody(16 * MIB).stream), (err) => {
      assert.ok(err instanceof StorageUnavailableError);
      assert.equal((err.cause as Error).name, 'InternalError');
      return true;
    });
    assert.deepEqual(fake.inputs(AbortMultipartUploadCommand).map((a) => a.UploadId), ['upload-1']);
    assert.deepEqual(fake.inputs(CompleteMultipartUploadCommand), []);
  });

  test('get maps NoSuchKey, InvalidRange and faults; sends the Range header', async () => {
    const { fake, store } = setup();
    fake.on(GetObjectCommand, (input, call) => {
      if (call === 1) return { Body: Readable.from([Buffer.from('56789')]), ContentRange: 'bytes 5-9/100' };
      if (call === 2) throw s3Error('NoSuchKey', 404);
      if (call === 3) throw s3Error('InvalidRange', 416);
      throw s3Error('SlowDown', 503);
    });
    fake.on(HeadObjectCommand, () => ({ ContentLength: 100, LastModified: new Date() }));
    assert.equal((await readAll(await store.get(KEY, { start: 5, endInclusive: 9 }))).toString(), '56789');
    assert.equal(fake.inputs(GetObjectCommand)[0]?.Range, 'bytes=5-9');
    await assert.rejects(store.get(KEY), ObjectNotFoundError);
    await assert.rejects(store.get(KEY, { start: 100, endInclusive: 120 }), (err) =>
      err instanceof RangeOutsideObjectError && toAppError(err)?.headers['Content-Range'] === 'bytes */100');
    await assert.rejects(store.get(KEY), StorageUnavailableError);
  });

  test('get refuses a response for a different range than asked', async () => {
    const { fake, store } = setup();
    fake.on(GetObjectCommand, () => ({ Body: Readable.from([Buffer.from('0123456789')]), ContentRange: 'bytes 0-9/10' }));
    await assert.rejects(store.get(KEY, { start: 5, endInclusive: 9 }), StorageUnavailableError);
  });

  test('ping maps a failing HeadBucket to StorageUnavailableError', async () => {
    const { fake, store } = setup();
    await store.ping();
    fake.on(HeadBucketCommand, () => { throw s3Error('AccessDenied', 403); });
    await assert.rejects(store.ping(), (err) => err instanceof StorageUnavailableError && err.code === 'storage_unavailable');
  });
});
