import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { toAppError } from '../../src/http/problem.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { createObjectStore } from '../../src/storage/index.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { MIB, collect, generatedBody, readAll } from './support.js';

describe('S3ObjectStore when s3rver goes away', () => {
  let s3: S3rverHandle;
  before(async () => { s3 = await startS3rver({ store: { partSizeBytes: 5 * MIB } }); });
  after(async () => { await s3.destroy(); });

  test('ping against a stopped server is a StorageUnavailableError; after a restart on the same port and directory all is back', async () => {
    const key = `recordings/acme/${randomUUID()}`;
    await s3.store.put(key, Buffer.from('survives restarts'));
    await s3.stop();
    await assert.rejects(s3.store.ping(), (err) => {
      assert.ok(err instanceof StorageUnavailableError);
      assert.equal(err.code, 'storage_unavailable');
      assert.equal(toAppError(err)?.status, 503);
      return true;
    });
    await assert.rejects(s3.store.head(key), StorageUnavailableError);
    await assert.rejects(s3.store.get(key), StorageUnavailableError);
    await s3.restart();
    await s3.store.ping();
    assert.equal((await readAll(await s3.store.get(key))).toString(), 'survives restarts');
  });

  test('storage killed in the middle of a multipart put: the put rejects and no object appears', async () => {
    const prefix = `recordings/${randomUUID()}/`;
    let stopping: Promise<void> | undefined;
    const body = generatedBody(40 * MIB, {
      onProgress(produced) {
        if (produced >= 12 * MIB) stopping ??= s3.stop();
      },
    });
    await assert.rejects(s3.store.put(`${prefix}cut`, body.stream), StorageUnavailableError);
    await stopping;
    assert.ok(body.produced() < 40 * MIB, 'the put gave up before reading the whole body');
    await s3.restart();
    assert.equal(await s3.store.head(`${prefix}cut`), null);
    assert.deepEqual(await collect(s3.store.list(prefix)), []);
  });

  test('storage killed while an object is being read: the stream fails with StorageUnavailableError', async () => {
    const key = `recordings/acme/${randomUUID()}`;
    await s3.store.put(key, generatedBody(24 * MIB).stream);
    const stream = await s3.store.get(key);
    let received = 0;
    let stopping: Promise<void> | undefined;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          received += chunk.length;
          stopping ??= s3.stop();
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })(),
      StorageUnavailableError,
    );
    await stopping;
    assert.ok(received < 24 * MIB);
    await s3.restart();
  });

  test('startS3rver can reopen an existing port and directory', async () => {
    const key = `recordings/acme/${randomUUID()}`;
    await s3.store.put(key, Buffer.from('kept'));
    await s3.stop();
    const again = await startS3rver({ port: s3.port, directory: s3.directory, bucket: s3.bucket });
    try {
      assert.equal(again.endpoint, s3.endpoint);
      assert.equal((await readAll(await again.store.get(key))).toString(), 'kept');
    } finally {
      await again.stop();
      again.client.destroy();
      await s3.restart();
    }
  });

  test('createObjectStore builds an S3 store from configuration', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    try {
      const store = await createObjectStore({
        driver: 's3', bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true,
        maxAttempts: 2, connectTimeoutMs: 1000, requestTimeoutMs: 5000,
      });
      assert.ok(store instanceof S3ObjectStore);
      await store.ping();
      const key = `recordings/acme/${randomUUID()}`;
      await store.put(key, Buffer.from('via factory'));
      assert.equal((await s3.store.head(key))?.sizeBytes, 11);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID; else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY; else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});
