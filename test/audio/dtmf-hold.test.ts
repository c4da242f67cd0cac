import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DTMF_MASKING, DtmfMaskPlanner } from '../../src/audio/dtmf-plan.js';
import { addPresses, type Press } from '../helpers/dtmf-audio.js';

test('at 768 kHz and 64 channels the frames held back stay under the byte cap, and key presses are still masked', () => {
  const rate = 768_000;
  const channels = 64;
  const bytesPerFrame = channels * 4;
  const presses: Press[] = [
    { digit: '4', at: 0.1, seconds: 0.05 }, { digit: '1', at: 0.3, seconds: 0.05 }, { digit: '7', at: 0.5, seconds: 0.05 },
  ];
  const mono = new Float32Array(rate);
  addPresses(mono, rate, presses);
  const planner = new DtmfMaskPlanner(rate, channels, bytesPerFrame);
  const block = rate / 100;
  let most = 0;
  for (let at = 0; at < mono.length; at += block) {
    const part = mono.subarray(at, at + block);
    // The same samples in every channel: the detectors each hear the presses.
    planner.push(Array.from({ length: channels }, () => part));
    most = Math.max(most, (at + part.length - planner.horizon) * bytesPerFrame);
  }
  assert.ok(most <= DTMF_MASKING.maxHoldBytes, `held ${most} bytes`);
  // Without the byte bound the undecided run (well within its 3 s gap) would be held whole.
  assert.ok(most > DTMF_MASKING.maxHoldBytes / 4, `held only ${most} bytes`);
  planner.finish();
  const masks = planner.masks();
  for (const p of presses) {
    const from = Math.round(p.at * rate);
    const to = Math.round((p.at + p.seconds) * rate);
    assert.ok(masks.some((m) => m.start <= from && m.end >= to), `press ${p.digit} at ${p.at}s masked: ${JSON.stringify(masks)}`);
  }
});
