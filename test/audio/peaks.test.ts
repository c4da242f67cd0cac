import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_BUCKET_MS, MAX_COLUMNS, PeakAccumulator, type PcmBlock } from '../../src/audio/index.js';

/** A deterministic signal with a different envelope per channel: a slow swell and a chirp. */
function signal(frames: number, rate: number): Float32Array[] {
  const a = new Float32Array(frames);
  const b = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    a[i] = Math.sin(2 * Math.PI * 300 * t) * (0.5 + 0.4 * Math.sin(t / 7));
    b[i] = 0.3 * Math.sin(2 * Math.PI * (200 + t) * t) - 0.1;
  }
  return [a, b];
}

function* blocks(channels: Float32Array[], rate: number, size: number): Generator<PcmBlock> {
  const frames = channels[0]?.length ?? 0;
  for (let at = 0; at < frames; at += size) {
    yield { sampleRate: rate, startFrame: at, channels: channels.map((c) => c.subarray(at, at + size)) };
  }
}

function peaksOf(channels: Float32Array[], rate: number, size: number) {
  const acc = new PeakAccumulator();
  for (const block of blocks(channels, rate, size)) acc.add(block);
  return acc.result();
}

/** Straightforward min/max over buckets of `bucketFrames`, rounded as the accumulator rounds. */
function direct(channels: Float32Array[], bucketFrames: number): number[][] {
  const round = (v: number): number => Math.round(v * 1e4) / 1e4 || 0;
  return channels.map((c) => {
    const out: number[] = [];
    for (let at = 0; at < c.length; at += bucketFrames) {
      const slice = c.subarray(at, at + bucketFrames);
      out.push(round(Math.min(...slice)), round(Math.max(...slice)));
    }
    return out;
  });
}

test('a short call keeps 10 ms buckets, the last one partial', () => {
  const rate = 8000;
  const channels = signal(rate * 12 + 37, rate);
  const peaks = peaksOf(channels, rate, 4096);
  assert.equal(peaks.bucketMs, BASE_BUCKET_MS);
  assert.equal(peaks.durationMs, 12_005);
  assert.equal(peaks.channels, 2);
  assert.deepEqual(peaks.peaks, direct(channels, 80));
});

test('a long call doubles its buckets to stay within 2,048 columns, equal to computing at that size directly', () => {
  const rate = 8000;
  const channels = signal(rate * 60 * 9 + 5, rate);
  const peaks = peaksOf(channels, rate, 3001);
  assert.equal(peaks.bucketMs, 320, '9 minutes: 10 ms doubled five times');
  const columns = (peaks.peaks[0]?.length ?? 0) / 2;
  assert.ok(columns > MAX_COLUMNS / 2 && columns <= MAX_COLUMNS, `${columns} columns`);
  assert.deepEqual(peaks.peaks, direct(channels, 320 * 8));
});

test('block boundaries do not change the peaks; rates that are not multiples of 100 Hz keep whole-sample buckets', () => {
  const rate = 44_100;
  const channels = signal(rate * 30, rate);
  const a = peaksOf(channels, rate, 1152);
  const b = peaksOf(channels, rate, 65_536);
  assert.deepEqual(a, b);
  assert.equal(a.bucketMs, 20);
  assert.deepEqual(a.peaks, direct(channels, 882));
});

test('memory is fixed: four hours at 48 kHz still yields at most 2,048 columns', () => {
  const rate = 48_000;
  const block = signal(48_000, rate);
  const acc = new PeakAccumulator();
  const seconds = 4 * 3600;
  for (let s = 0; s < seconds; s++) acc.add({ sampleRate: rate, startFrame: s * rate, channels: block });
  const peaks = acc.result();
  assert.equal(peaks.durationMs, seconds * 1000);
  assert.ok((peaks.peaks[0]?.length ?? 0) <= 2 * MAX_COLUMNS);
  assert.equal(peaks.bucketMs, 10 * 2 ** 10, '4 h / 2,048 columns is 7 s: 10 ms doubled ten times');
});

test('blocks that change rate or channel count mid-stream are refused', () => {
  const acc = new PeakAccumulator();
  acc.add({ sampleRate: 8000, startFrame: 0, channels: [new Float32Array(10)] });
  assert.throws(() => acc.add({ sampleRate: 16000, startFrame: 10, channels: [new Float32Array(10)] }));
  assert.throws(() => acc.add({ sampleRate: 8000, startFrame: 10, channels: [new Float32Array(10), new Float32Array(10)] }));
});
