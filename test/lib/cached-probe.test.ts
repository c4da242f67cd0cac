import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedProbe } from '../../src/lib/cached-probe.js';

/** A probe whose answers are queued by the test, on a clock the test moves. */
function harness(ttlMs: number): { probe: CachedProbe<string>; answers: string[]; calls: () => number; advance: (ms: number) => void } {
  let clock = 1_000_000;
  let calls = 0;
  const answers: string[] = [];
  const probe = new CachedProbe(async () => {
    calls++;
    const next = answers.shift();
    if (next === undefined) throw new Error('unreachable');
    return next;
  }, ttlMs, () => clock);
  return { probe, answers, calls: () => calls, advance: (ms) => { clock += ms; } };
}

describe('CachedProbe', () => {
  test('answers from memory until the answer is ttlMs old, then checks again', async () => {
    const h = harness(5_000);
    h.answers.push('ok', 'unavailable');
    assert.equal(await h.probe.get(), 'ok');
    h.advance(4_999);
    assert.equal(await h.probe.get(), 'ok');
    assert.equal(h.calls(), 1);
    h.advance(1);
    assert.equal(await h.probe.get(), 'unavailable', 'a failure shows once the cached answer has expired');
    assert.equal(h.calls(), 2);
  });

  test('concurrent callers share one check in flight', async () => {
    const h = harness(1_000);
    h.answers.push('ok');
    assert.deepEqual(await Promise.all(Array.from({ length: 10 }, () => h.probe.get())), Array<string>(10).fill('ok'));
    assert.equal(h.calls(), 1);
  });

  test('a check that throws is not cached: the next call checks again', async () => {
    const h = harness(1_000);
    await assert.rejects(h.probe.get(), /unreachable/);
    h.answers.push('ok');
    assert.equal(await h.probe.get(), 'ok');
    assert.equal(h.calls(), 2);
  });
});
