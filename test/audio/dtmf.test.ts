import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DtmfDetector, type DtmfTone } from '../../src/audio/dtmf.js';
import { addNoise, addPresses, decodeAll, edgeOfQ24, FIXTURE_PRESSES, KEYPAD, seeded, talkOffSecond, type Press } from '../helpers/dtmf-audio.js';
import { FIXTURE_FILES, fixturePath } from '../helpers/fixtures.js';

const DTMF_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/dtmf');
const TYPES: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', opus: 'audio/ogg; codecs=opus' };

/** Every channel of a recording file through its own detector. */
async function detectFile(file: string): Promise<DtmfTone[]> {
  const { rate, channels } = await decodeAll(await readFile(file), TYPES[path.extname(file).slice(1)] ?? '');
  return channels.flatMap((c) => detect(rate, c));
}

const RATES = [8000, 16000, 48000] as const;

/** Runs the detector over `samples` in pieces of awkward lengths, as a stream would hand them. */
function detect(rate: number, samples: Float32Array): DtmfTone[] {
  const d = new DtmfDetector(rate);
  const out: DtmfTone[] = [];
  for (let i = 0, step = 1; i < samples.length; i += step, step = (step * 7 + 3) % 4001 + 1) out.push(...d.push(samples.subarray(i, i + step)));
  return [...out, ...d.flush()];
}

function pressesIn(rate: number, seconds: number, presses: readonly Press[]): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  addPresses(out, rate, presses, seeded(5));
  return out;
}

describe('DTMF detector (ITU-T Q.23 frequencies, Q.24 acceptance)', () => {
  for (const rate of RATES) {
    test(`${rate} Hz: 1,000 key presses at the edges of Q.24 (40 ms, twist ±6 dB, ±1.5 %, SNR 15 dB) are all detected, in order, where they sound`, () => {
      const { samples, presses } = edgeOfQ24(rate, 1000, rate);
      const tones = detect(rate, samples);
      assert.equal(tones.map((t) => t.digit).join(''), presses.map((p) => p.digit).join(''));
      tones.forEach((t, i) => {
        const p = presses[i] as Press;
        const from = p.at * rate; const to = (p.at + p.seconds) * rate;
        assert.ok(t.start >= from - 0.01 * rate && t.end <= to + 0.01 * rate, `tone ${i} at ${t.start}..${t.end} is where press ${from}..${to} sounds`);
      });
    });
  }

  test('frequencies off by 1.5 % are accepted, off by 3.5 % rejected, for every digit and rate', () => {
    for (const rate of RATES) {
      for (const digit of KEYPAD) {
        for (const [deviation, expected] of [[0.015, 1], [-0.015, 1], [0.035, 0], [-0.035, 0]] as const) {
          const tones = detect(rate, pressesIn(rate, 0.3, [{ digit, at: 0.1, seconds: 0.06, deviation }]));
          assert.equal(tones.length, expected, `${digit} at ${deviation * 100} % and ${rate} Hz`);
        }
      }
    }
  });

  test('twist of 6 and 8 dB either way is accepted, 12 dB is not', () => {
    for (const digit of KEYPAD) {
      for (const [twistDb, expected] of [[6, 1], [-6, 1], [8, 1], [-8, 1], [12, 0], [-12, 0]] as const) {
        assert.equal(detect(8000, pressesIn(8000, 0.3, [{ digit, at: 0.1, seconds: 0.06, twistDb }])).length, expected, `${digit} twist ${twistDb}`);
      }
    }
  });

  test('a 20 ms press is too short, whatever its alignment; a 40 ms press is not', () => {
    for (let i = 0; i < 40; i++) {
      const at = 0.1 + i * 0.00025;
      assert.equal(detect(8000, pressesIn(8000, 0.3, [{ digit: '5', at, seconds: 0.02 }])).length, 0, `20 ms at ${at}`);
      assert.equal(detect(8000, pressesIn(8000, 0.3, [{ digit: '5', at, seconds: 0.04 }])).length, 1, `40 ms at ${at}`);
    }
  });

  test('a 10 ms interruption does not split a press; a 40 ms pause separates two presses of one key', () => {
    const interrupted = pressesIn(8000, 0.5, [{ digit: '7', at: 0.1, seconds: 0.05 }, { digit: '7', at: 0.16, seconds: 0.05 }]);
    assert.deepEqual(detect(8000, interrupted).map((t) => t.digit), ['7']);
    const paused = pressesIn(8000, 0.5, [{ digit: '7', at: 0.1, seconds: 0.05 }, { digit: '7', at: 0.19, seconds: 0.05 }]);
    assert.deepEqual(detect(8000, paused).map((t) => t.digit), ['7', '7']);
  });

  test('tones quieter than -40 dBFS are not keys; a press in loud noise (SNR 0 dB) is not accepted', () => {
    assert.equal(detect(8000, pressesIn(8000, 0.3, [{ digit: '1', at: 0.1, seconds: 0.06, level: 0.004 }])).length, 0);
    const noisy = pressesIn(8000, 0.3, [{ digit: '1', at: 0.1, seconds: 0.06, level: 0.1 }]);
    addNoise(noisy, 0.1, seeded(3));
    assert.equal(detect(8000, noisy).length, 0);
  });

  test('talk-off: no detection in 10 minutes of generated speech-band noise, voiced sounds and music-like tones', () => {
    const seconds = { 8000: 600, 16000: 60, 48000: 60 } as const;
    for (const rate of RATES) {
      const d = new DtmfDetector(rate);
      const rand = seeded(rate + 11);
      const found: DtmfTone[] = [];
      for (let s = 0; s < seconds[rate]; s++) found.push(...d.push(talkOffSecond(rate, s, rand)));
      found.push(...d.flush());
      assert.deepEqual(found, [], `${rate} Hz`);
    }
  });

  test('talk-off: no detection in the speech fixtures, in any of their four formats', async () => {
    for (const name of FIXTURE_FILES) assert.deepEqual(await detectFile(fixturePath(name)), [], name);
  });

  test('key presses mixed into the speech fixture survive MP3 and Opus coding and are all found', async () => {
    for (const file of ['call-dtmf-8k-mono.mp3', 'call-dtmf-8k-mono.opus']) {
      const tones = await detectFile(path.join(DTMF_FIXTURES, file));
      assert.equal(tones.map((t) => t.digit).join(''), FIXTURE_PRESSES.map((p) => p.digit).join(''), file);
    }
  });

  test('the detector refuses a rate too low to carry the high group\'s harmonics', () => {
    assert.throws(() => new DtmfDetector(4000), RangeError);
  });
});
