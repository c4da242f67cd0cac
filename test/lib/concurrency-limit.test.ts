import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimit } from '../../src/lib/concurrency-limit.js';

test('at most `limit` run at once, the others in arrival order, and a failure frees its place', async () => {
  const limit = new ConcurrencyLimit(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const job = (i: number) => limit.run(async () => {
    running += 1;
    most = Math.max(most, running);
    order.push(i);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running -= 1;
    if (i === 1) throw new Error('job 1 fails');
    return i;
  });
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map(job));
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.equal(await limit.run(async () => 'free again'), 'free again');
  assert.throws(() => new ConcurrencyLimit(0), RangeError);
});
