import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DtmfDetector, type SampleReader } from '../../src/audio/dtmf.js';
import { KeyBandScreen } from '../../src/audio/dtmf-filters.js';
import { ALAW_TABLE, encodeSample, ULAW_TABLE } from '../../src/audio/samples.js';
import { addPresses, frequenciesOf, KEYPAD, seeded, type Press } from '../helpers/dtmf-audio.js';

const RATES = [8000, 16000, 48000] as const;

/** 5 ms of a key pair (twist and deviation given) with `share` of the energy in a tone at `other` Hz. */
function pairWith(rate: number, digit: string, twistDb: number, deviation: number, other: number, share: number, rand: () => number): Float32Array {
  const { row, col } = frequenciesOf(digit);
  const high = 10 ** (twistDb / 20);
  const extra = Math.sqrt(((1 + high * high) * share) / (1 - share));
  const [p1, p2, p3] = [rand(), rand(), rand()].map((r) => r * 2 * Math.PI);
  return Float32Array.from({ length: rate / 200 }, (_, i) => {
    const t = i / rate;
    return Math.sin(2 * Math.PI * row * (1 + deviation) * t + (p1 ?? 0)) + high * Math.sin(2 * Math.PI * col * (1 + deviation) * t + (p2 ?? 0))
      + extra * Math.sin(2 * Math.PI * other * t + (p3 ?? 0));
  });
}

/** Random mu-law bytes, decoded: loud white noise, the worst case of masking's cost. */
function loudNoise(samples: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: samples }, () => ULAW_TABLE[Math.floor(rand() * 256)] ?? 0);
}

describe('DTMF screen (a five-tap filter before the Goertzel bank)', () => {
  test('passes a key pair 2.5 % off with 9 dB of twist either way and a tenth of its energy anywhere up to 3.4 kHz, or a twentieth up to half the rate', () => {
    const rand = seeded(21);
    for (const rate of RATES) {
      const screen = new KeyBandScreen(rate);
      for (const digit of KEYPAD) {
        for (const [twistDb, deviation] of [[-9, -0.025], [9, 0.025], [0, 0.025], [9, -0.025]] as const) {
          for (let other = 50; other < rate / 2; other += 50) {
            const share = other <= 3400 ? 0.1 : 0.05;
            const x = pairWith(rate, digit, twistDb, deviation, other, share, rand);
            assert.ok(screen.passes(x, x.length), `${rate} Hz ${digit}, twist ${twistDb}, ${deviation * 100} %, ${share * 100} % at ${other} Hz`);
          }
        }
      }
    }
  });

  test('rules out at least 95 in 100 5 ms stretches of loud white noise at 8 kHz, and silence', () => {
    const screen = new KeyBandScreen(8000);
    const noise = loudNoise(8000 * 20, seeded(5));
    let passed = 0;
    for (let at = 0; at + 40 <= noise.length; at += 40) if (screen.passes(noise.subarray(at, at + 40), 40)) passed += 1;
    assert.ok(passed < noise.length / 40 / 20, `${passed} of ${noise.length / 40} passed`);
    assert.equal(screen.passes(new Float32Array(40), 40), false);
  });

  test('G.711 codes read in place (every other byte of a stereo frame) get the verdicts their decoded samples get', () => {
    const rate = 8000;
    const screen = new KeyBandScreen(rate);
    const rand = seeded(13);
    const mixed = loudNoise(rate * 2, rand).map((v, i) => (Math.floor(i / 400) % 2 === 0 ? v * 0.01 : v));
    addPresses(mixed, rate, [...'1397'].map((digit, i) => ({ digit, at: 0.2 + i * 0.4, seconds: 0.1 })), rand);
    for (const [codec, table] of [['mulaw', ULAW_TABLE], ['alaw', ALAW_TABLE]] as const) {
      const codes = new Uint8Array(mixed.length * 2);
      mixed.forEach((v, i) => { codes[2 * i + 1] = encodeSample(codec, v)[0] ?? 0; });
      const decoded = Float32Array.from(mixed, (_, i) => table[codes[2 * i + 1] ?? 0] ?? 0);
      let passed = 0;
      for (let at = 0; at + 40 <= mixed.length; at += 40) {
        const coded = screen.passesCoded({ codes, first: 1, stride: 2, table }, at, 40);
        assert.equal(coded, screen.passes(decoded.subarray(at, at + 40), 40), `${codec} at ${at}`);
        passed += coded ? 1 : 0;
      }
      assert.ok(passed > 0 && passed < mixed.length / 40, `${codec}: some stretches pass, not all`);
    }
  });

  test('on loud noise handed over in 16 KiB pieces the detector reads under a third of the samples, and finds the presses in it all the same', () => {
    const rate = 8000;
    const samples = loudNoise(rate * 20, seeded(9));
    const presses: Press[] = [...'159#'].map((digit, i) => ({ digit, at: 2 + i * 4, seconds: 0.06, level: 0.5 }));
    for (const p of presses) samples.fill(0, Math.round(p.at * rate) - 400, Math.round((p.at + p.seconds) * rate) + 400);
    addPresses(samples, rate, presses, seeded(3));
    let read = 0;
    const d = new DtmfDetector(rate);
    const tones = [];
    for (let at = 0; at < samples.length; at += 16384) {
      const piece = samples.subarray(at, at + 16384);
      const reader: SampleReader = {
        length: piece.length,
        read: (into, to, from, count) => { read += count; into.set(piece.subarray(from, from + count), to); },
      };
      tones.push(...d.push(reader));
    }
    tones.push(...d.flush());
    assert.deepEqual(tones.map((t) => t.digit), presses.map((p) => p.digit));
    assert.ok(read < samples.length / 3, `read ${read} of ${samples.length}`);
  });
});
