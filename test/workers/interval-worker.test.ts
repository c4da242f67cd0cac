import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalWorker } from '../../src/workers/interval-worker.js';

function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => { open = resolve; });
  return { wait, open };
}

test('a slow pass does not queue more behind it, and stop() waits for the pass in progress', async () => {
  let passes = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const started = gate();
  const release = gate();
  const worker = new IntervalWorker('slow', 5, async () => {
    passes += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    started.open();
    await release.wait;
    inFlight -= 1;
  }, (err) => { throw err; }).start();
  await started.wait;
  // Many intervals go by while the first pass is blocked: a timer would have queued a run for each.
  await new Promise((r) => setTimeout(r, 60));
  let stopped = false;
  const stopping = worker.stop().then(() => { stopped = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(stopped, false, 'stop() waits for the pass in progress');
  release.open();
  await stopping;
  assert.deepEqual({ passes, maxInFlight, inFlight }, { passes: 1, maxInFlight: 1, inFlight: 0 });
});

test('delayFirst waits one interval; a failed pass is reported and the next one runs', async () => {
  const errors: unknown[] = [];
  let passes = 0;
  const second = gate();
  const worker = new IntervalWorker('flaky', 1, async () => {
    passes += 1;
    if (passes === 1) throw new Error('first pass fails');
    second.open();
  }, (err) => errors.push(err), { delayFirst: true });
  worker.start();
  assert.equal(passes, 0, 'nothing runs at start');
  await second.wait;
  await worker.stop();
  assert.equal((errors[0] as Error).message, 'first pass fails');
  assert.ok(passes >= 2);
});
