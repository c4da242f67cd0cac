import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toAppError } from '../../src/http/problem.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { createObjectStore } from '../../src/storage/index.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { withImmutableDir } from '../helpers/immutable.js';
import { collect, generatedBody } from './support.js';

describe('FsObjectStore', () => {
  let root: string;
  let store: FsObjectStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'callvault-fs-only-'));
    store = new FsObjectStore({ root });
  });
  after(async () => { await rm(root, { recursive: true, force: true }); });

  test('stores one private file per key, under the key path', async () => {
    await store.put('recordings/acme/one', Buffer.from('ciphertext'));
    const info = await stat(join(root, 'recordings', 'acme', 'one'));
    assert.equal(info.size, 10);
    assert.equal(info.mode & 0o777, 0o600);
  });

  test('prepare creates the store and its temp directory, and puts create key directories, all mode 0700', async () => {
    const fresh = join(root, 'fresh', 'objects');
    const own = new FsObjectStore({ root: fresh });
    await own.prepare();
    for (const dir of [join(root, 'fresh'), fresh, join(fresh, '.tmp')]) assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
    await own.put('recordings/acme/2026/one', Buffer.from('ciphertext'));
    for (const dir of ['recordings', 'recordings/acme', 'recordings/acme/2026']) assert.equal((await stat(join(fresh, dir))).mode & 0o777, 0o700, dir);
  });

  test('an interrupted put leaves neither the object nor a temp file', async () => {
    const body = generatedBody(10_000_000, { failAfter: 3_000_000 });
    await assert.rejects(store.put('recordings/acme/interrupted', body.stream), /upstream body failed/);
    assert.equal(await store.head('recordings/acme/interrupted'), null);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
  });

  test('a put that overwrites replaces the whole object at once', async () => {
    await store.put('recordings/acme/replaced', Buffer.alloc(5000, 1));
    const failing = generatedBody(8000, { failAfter: 3000, chunkBytes: 1000 });
    await assert.rejects(store.put('recordings/acme/replaced', failing.stream));
    assert.equal((await store.head('recordings/acme/replaced'))?.sizeBytes, 5000);
    await store.put('recordings/acme/replaced', Buffer.alloc(7, 2));
    assert.equal((await store.head('recordings/acme/replaced'))?.sizeBytes, 7);
  });

  test('sweepTempFiles removes only leftovers older than the cutoff', async () => {
    const tmp = join(root, '.tmp');
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, 'stale'), 'partial upload from a crash');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(tmp, 'stale'), hourAgo, hourAgo);
    await writeFile(join(tmp, 'in-progress'), 'a put still running');
    assert.equal(await store.sweepTempFiles(60_000), 1);
    assert.deepEqual(await readdir(tmp), ['in-progress']);
    await rm(join(tmp, 'in-progress'));
    assert.equal(await new FsObjectStore({ root: join(root, 'never-used') }).sweepTempFiles(0), 0);
  });

  test('list never reports temp files, and directories are not objects', async () => {
    await mkdir(join(root, '.tmp'), { recursive: true });
    await writeFile(join(root, '.tmp', 'leftover'), 'x');
    const keys = (await collect(store.list(''))).map((o) => o.key);
    assert.ok(keys.length > 0);
    assert.ok(keys.every((k) => !k.startsWith('.tmp')), keys.join(','));
    assert.equal(await store.head('recordings/acme'), null);
    await assert.rejects(store.get('recordings/acme'), { code: 'object_not_found' });
    await assert.rejects(store.delete('recordings/acme'), StorageUnavailableError, 'a directory is not an object that was deleted');
    assert.ok((await stat(join(root, 'recordings', 'acme'))).isDirectory());
    await rm(join(root, '.tmp', 'leftover'));
  });

  test('a delete the filesystem refuses fails and leaves the object; only ENOENT counts as gone', async () => {
    await store.put('recordings/locked/one', Buffer.from('still here'));
    await withImmutableDir(join(root, 'recordings', 'locked'), async () => {
      await assert.rejects(store.delete('recordings/locked/one'), (err) => {
        assert.ok(err instanceof StorageUnavailableError);
        assert.equal((err.cause as NodeJS.ErrnoException).code, 'EPERM');
        return true;
      });
    });
    assert.equal((await store.head('recordings/locked/one'))?.sizeBytes, 10, 'the bytes remain');
    await store.delete('recordings/locked/one');
    assert.equal(await store.head('recordings/locked/one'), null);
    await store.delete('recordings/locked/one');
  });

  test('ping fails with StorageUnavailableError when the root cannot be written', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, 'not a directory');
    const broken = new FsObjectStore({ root: join(file, 'store') });
    await assert.rejects(broken.ping(), (err) => {
      assert.ok(err instanceof StorageUnavailableError);
      assert.equal(err.code, 'storage_unavailable');
      assert.equal(toAppError(err)?.status, 503);
      return true;
    });
    await assert.rejects(broken.put('recordings/acme/x', Buffer.from('x')), StorageUnavailableError);
  });

  test('createObjectStore builds the fs driver', async () => {
    const made = await createObjectStore({ driver: 'fs', root: join(root, 'factory') });
    assert.ok(made instanceof FsObjectStore);
    await made.ping();
  });
});
