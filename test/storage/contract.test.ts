import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { toAppError } from '../../src/http/problem.js';
import { ContentLengthMismatchError, ObjectNotFoundError, RangeOutsideObjectError, StorageError, StorageUnavailableError } from '../../src/storage/errors.js';
import {
  FIXTURE_DIR, FIXTURES, HARNESSES, MIB, collect, generatedBody, liveBytes, readAll, sha256, sha256OfStream,
  type StoreHarness,
} from './support.js';

for (const { driver, make } of HARNESSES) {
  describe(`ObjectStore contract (${driver})`, () => {
    let h: StoreHarness;
    before(async () => { h = await make(); });
    after(async () => { await h.close(); });
    const newKey = (): string => `recordings/tenant-${driver}/${randomUUID()}`;

    test('reports its driver', () => {
      assert.equal(h.store.driver, driver);
    });

    test('round-trips each fixture, streamed in and out, by SHA-256', async () => {
      for (const name of FIXTURES) {
        const path = join(FIXTURE_DIR, name);
        const original = await readFile(path);
        const key = newKey();
        const { sizeBytes } = await h.store.put(key, createReadStream(path));
        assert.equal(sizeBytes, original.length, name);
        const back = await sha256OfStream(await h.store.get(key));
        assert.equal(back.hex, sha256(original), name);
        const info = await h.store.head(key);
        assert.equal(info?.sizeBytes, original.length);
        assert.equal(info?.key, key);
        assert.ok(info && Math.abs(info.lastModified.getTime() - Date.now()) < 60_000);
      }
    });

    test('accepts a Buffer body', async () => {
      const key = newKey();
      const body = Buffer.from('a small buffer body');
      assert.deepEqual(await h.store.put(key, body, { contentLength: body.length }), { sizeBytes: body.length });
      assert.deepEqual(await readAll(await h.store.get(key)), body);
    });

    test('serves byte ranges: first byte, middle, last byte, whole, clamped end', async () => {
      const original = await readFile(join(FIXTURE_DIR, 'call-8k-mono.mp3'));
      const key = newKey();
      await h.store.put(key, original);
      const last = original.length - 1;
      const cases: Array<[number, number]> = [[0, 0], [1000, 4999], [last, last], [0, last], [last - 9, last]];
      for (const [start, endInclusive] of cases) {
        const got = await readAll(await h.store.get(key, { start, endInclusive }));
        assert.deepEqual(got, original.subarray(start, endInclusive + 1), `bytes=${start}-${endInclusive}`);
      }
      const clamped = await readAll(await h.store.get(key, { start: last - 2, endInclusive: last + 100 }));
      assert.deepEqual(clamped, original.subarray(last - 2));
      await assert.rejects(h.store.get(key, { start: original.length, endInclusive: original.length + 5 }), (err) => {
        assert.ok(err instanceof RangeOutsideObjectError);
        assert.equal(toAppError(err)?.headers['Content-Range'], `bytes */${original.length}`);
        return true;
      });
    });

    test('streams a 64 MiB body through without holding it in memory', async () => {
      const key = newKey();
      const baseline = liveBytes();
      let peak = 0;
      let nextSample = 0;
      const total = 64 * MIB;
      const body = generatedBody(total, {
        onProgress(produced) {
          if (produced < nextSample && produced < total) return;
          nextSample = produced + 4 * MIB;
          peak = Math.max(peak, liveBytes() - baseline);
        },
      });
      const { sizeBytes } = await h.store.put(key, body.stream);
      assert.equal(sizeBytes, total);
      // A store holding the body whole shows >= 64 MiB at the last sample. The s3 driver's bound is
      // lib-storage's: about (queueSize + 2) parts of 5 MiB plus socket buffers (20-36 MiB seen).
      assert.ok(peak < 48 * MIB, `peak live memory grew by ${(peak / MIB).toFixed(1)} MiB`);
      const back = await sha256OfStream(await h.store.get(key));
      assert.equal(back.bytes, 64 * MIB);
      assert.equal(back.hex, body.digest());
    });

    for (const [label, failAfter] of [['before the first part', 1 * MIB], ['after two parts', 12 * MIB]] as const) {
      test(`a body that errors ${label} stores nothing`, async () => {
        const prefix = `recordings/failing-${randomUUID()}/`;
        const key = `${prefix}object`;
        const body = generatedBody(64 * MIB, { failAfter });
        await assert.rejects(h.store.put(key, body.stream), /upstream body failed/);
        assert.ok(body.produced() >= failAfter);
        assert.equal(await h.store.head(key), null);
        await assert.rejects(h.store.get(key), ObjectNotFoundError);
        assert.deepEqual(await collect(h.store.list(prefix)), []);
        assert.deepEqual(await h.tempFiles(), []);
      });
    }

    test('a body destroyed without an error (the client went away) stores nothing', async () => {
      const key = newKey();
      let stream: Readable | undefined;
      const body = generatedBody(32 * MIB, {
        onProgress(produced) {
          if (produced >= 7 * MIB) setImmediate(() => stream?.destroy());
        },
      });
      stream = body.stream;
      await assert.rejects(h.store.put(key, body.stream), (err) => !(err instanceof StorageUnavailableError));
      assert.equal(await h.store.head(key), null);
      assert.deepEqual(await h.tempFiles(), []);
    });

    test('a body longer or shorter than contentLength is refused and stores nothing', async () => {
      for (const declared of [1000, 5000]) {
        const key = newKey();
        const body = generatedBody(3000, { chunkBytes: 700 });
        await assert.rejects(h.store.put(key, body.stream, { contentLength: declared }), (err) => {
          assert.ok(err instanceof ContentLengthMismatchError);
          assert.equal(toAppError(err)?.status, 400);
          assert.equal(err.code, 'content_length_mismatch');
          return true;
        });
        assert.equal(await h.store.head(key), null);
      }
      await assert.rejects(h.store.put(newKey(), Buffer.alloc(10), { contentLength: 11 }), ContentLengthMismatchError);
      assert.deepEqual(await h.tempFiles(), []);
    });

    test('get and head of a missing key', async () => {
      const key = newKey();
      await assert.rejects(h.store.get(key), (err) => {
        assert.ok(err instanceof ObjectNotFoundError);
        assert.equal(toAppError(err)?.status, 404);
        assert.equal(err.code, 'object_not_found');
        return true;
      });
      await assert.rejects(h.store.get(key, { start: 0, endInclusive: 10 }), ObjectNotFoundError);
      assert.equal(await h.store.head(key), null);
    });

    test('delete removes the object and is idempotent', async () => {
      const key = newKey();
      await h.store.put(key, Buffer.from('to be deleted'));
      await h.store.delete(key);
      assert.equal(await h.store.head(key), null);
      await assert.rejects(h.store.get(key), ObjectNotFoundError);
      await h.store.delete(key);
      await h.store.delete(newKey());
    });

    test('lists by prefix', async () => {
      const tenant = randomUUID();
      const keys = [`recordings/${tenant}/a`, `recordings/${tenant}/b`, `recordings/${tenant}x/c`, `audit-anchors/${tenant}/d`];
      for (const [i, key] of keys.entries()) await h.store.put(key, Buffer.alloc(i + 1, i));
      const keysOf = async (prefix: string): Promise<string[]> =>
        (await collect(h.store.list(prefix))).map((o) => o.key).filter((k) => k.includes(tenant)).sort();
      assert.deepEqual(await keysOf(`recordings/${tenant}/`), keys.slice(0, 2));
      assert.deepEqual(await keysOf(`recordings/${tenant}`), keys.slice(0, 3));
      assert.deepEqual(await keysOf(`audit-anchors/`), [keys[3]]);
      assert.deepEqual(await keysOf(''), [...keys].sort());
      assert.deepEqual(await collect(h.store.list(`recordings/${randomUUID()}/`)), []);
      const [first] = await collect(h.store.list(`recordings/${tenant}/a`));
      assert.equal(first?.sizeBytes, 1);
      assert.ok(first?.lastModified instanceof Date);
    });

    test('concurrent puts of different keys', async () => {
      const bodies = Array.from({ length: 8 }, (_, i) => generatedBody(256 * 1024 + i * 999));
      const keys = bodies.map(() => newKey());
      await Promise.all(bodies.map((b, i) => h.store.put(keys[i]!, b.stream)));
      for (const [i, key] of keys.entries()) {
        assert.equal((await sha256OfStream(await h.store.get(key))).hex, bodies[i]!.digest());
      }
    });

    test('ping succeeds', async () => {
      await h.store.ping();
    });

    test('setLegalHold is accepted without object lock', async () => {
      const key = newKey();
      await h.store.put(key, Buffer.from('held'));
      await h.store.setLegalHold(key, true);
      await h.store.setLegalHold(key, false);
      assert.equal((await h.store.head(key))?.sizeBytes, 4);
    });

    test('invalid keys are programming errors (plain Error)', async () => {
      for (const bad of ['../escape', '/abs', 'a\0b', 'a b', 'a//b', '.tmp/x', 'recordings/']) {
        await assert.rejects(h.store.put(bad, Buffer.from('x')), (err) => !(err instanceof StorageError) && err instanceof Error, bad);
        await assert.rejects(h.store.get(bad), (err) => !(err instanceof StorageError), bad);
        await assert.rejects(h.store.delete(bad), (err) => !(err instanceof StorageError), bad);
      }
    });
  });
}
