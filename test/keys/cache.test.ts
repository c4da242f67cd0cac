import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataKeyCache, dataKeyCacheKey } from '../../src/keys/index.js';
import { waitFor } from '../helpers/wait.js';

const keyOf = (byte: number): Buffer => Buffer.alloc(32, byte);
const isWiped = (buf: Buffer): boolean => buf.every((b) => b === 0);

function countingLoader(byte: number): { load: () => Promise<Buffer>; calls: () => number } {
  let calls = 0;
  return {
    load: async () => {
      calls++;
      await sleep(5);
      return keyOf(byte);
    },
    calls: () => calls,
  };
}

describe('DataKeyCache', () => {
  test('a hit returns the cached buffer without loading again', async () => {
    const cache = new DataKeyCache();
    const loader = countingLoader(0xab);
    const first = await cache.getOrLoad('k', loader.load);
    const second = await cache.getOrLoad('k', loader.load);
    assert.equal(second, first);
    assert.equal(loader.calls(), 1);
    assert.equal(cache.size, 1);
    cache.clear();
  });

  test('TTL expiry wipes the key without any further access', async () => {
    const cache = new DataKeyCache({ ttlMs: 30 });
    const loader = countingLoader(0xab);
    const key = await cache.getOrLoad('k', loader.load);
    assert.ok(!isWiped(key));
    await waitFor('the expired key to be zero-filled', async () => isWiped(key), 5_000);
    assert.equal(cache.size, 0);
    const fresh = await cache.getOrLoad('k', loader.load);
    assert.equal(loader.calls(), 2);
    assert.ok(!isWiped(fresh));
    cache.clear();
  });

  test('LRU bound: the least recently used key is evicted and wiped', async () => {
    const cache = new DataKeyCache({ maxEntries: 3 });
    const [a, b, c, d] = [1, 2, 3, 4].map(countingLoader);
    const keyA = await cache.getOrLoad('a', a.load);
    const keyB = await cache.getOrLoad('b', b.load);
    await cache.getOrLoad('c', c.load);
    await cache.getOrLoad('a', a.load);
    await cache.getOrLoad('d', d.load);
    assert.equal(cache.size, 3);
    assert.ok(isWiped(keyB), 'b was least recently used');
    assert.ok(!isWiped(keyA));
    await cache.getOrLoad('a', a.load);
    assert.equal(a.calls(), 1);
    await cache.getOrLoad('b', b.load);
    assert.equal(b.calls(), 2);
    assert.equal(cache.size, 3);
    cache.clear();
  });

  test('single flight: ten concurrent loads of one key call the loader once', async () => {
    const cache = new DataKeyCache();
    const loader = countingLoader(0x42);
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrLoad('k', loader.load)));
    assert.equal(loader.calls(), 1);
    for (const r of results) assert.equal(r, results[0]);
    const other = countingLoader(0x43);
    await Promise.all([cache.getOrLoad('k2', other.load), cache.getOrLoad('k3', other.load)]);
    assert.equal(other.calls(), 2, 'different keys load separately');
    cache.clear();
  });

  test('a failed load reaches every waiter, is not cached, and the next call retries', async () => {
    const cache = new DataKeyCache();
    let calls = 0;
    const failing = async (): Promise<Buffer> => {
      calls++;
      await sleep(5);
      throw new Error('key service down');
    };
    const outcomes = await Promise.allSettled([cache.getOrLoad('k', failing), cache.getOrLoad('k', failing)]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    assert.equal(calls, 1);
    assert.equal(cache.size, 0);
    const throwsAtOnce = (): Promise<Buffer> => { throw new Error('sync failure'); };
    await assert.rejects(cache.getOrLoad('k', throwsAtOnce), /sync failure/);
    const loader = countingLoader(7);
    assert.ok(!isWiped(await cache.getOrLoad('k', loader.load)));
    assert.equal(loader.calls(), 1);
    cache.clear();
  });

  test('clear and delete wipe; a load racing a delete is returned but not cached', async () => {
    const cache = new DataKeyCache();
    const x = await cache.getOrLoad('x', countingLoader(1).load);
    const y = await cache.getOrLoad('y', countingLoader(2).load);
    cache.delete('x');
    assert.ok(isWiped(x));
    assert.ok(!isWiped(y));
    cache.clear();
    assert.ok(isWiped(y));
    assert.equal(cache.size, 0);

    const racing = cache.getOrLoad('z', countingLoader(3).load);
    cache.delete('z');
    const z = await racing;
    assert.ok(!isWiped(z));
    assert.equal(cache.size, 0);
  });

  test('cache keys follow the context, the keyRef and the wrapped bytes', () => {
    const ctx = { tenant: 'acme', recordingId: 'rec-1' };
    const wrapped = Buffer.from('wrapped-a');
    const a = dataKeyCacheKey(ctx, 'local:v1', wrapped);
    assert.equal(a, dataKeyCacheKey({ ...ctx }, 'local:v1', Buffer.from('wrapped-a')));
    assert.notEqual(a, dataKeyCacheKey(ctx, 'local:v1', Buffer.from('wrapped-b')));
    assert.notEqual(a, dataKeyCacheKey(ctx, 'local:v2', wrapped));
    assert.notEqual(a, dataKeyCacheKey({ ...ctx, recordingId: 'rec-2' }, 'local:v1', wrapped));
    assert.notEqual(a, dataKeyCacheKey({ ...ctx, tenant: 'globex' }, 'local:v1', wrapped));
  });

  test('options are validated', () => {
    assert.throws(() => new DataKeyCache({ maxEntries: 0 }), RangeError);
    assert.throws(() => new DataKeyCache({ ttlMs: 0 }), RangeError);
  });
});
