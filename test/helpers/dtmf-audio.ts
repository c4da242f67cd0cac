/**
 * Generated audio for the DTMF tests and bench: key presses at chosen level, twist, frequency
 * deviation and noise, and the talk-off material (speech-band noise, voiced sounds, music-like
 * tones). Seeded, so every run hears the same sounds.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { decodeAudio } from '../../src/audio/index.js';
import { DTMF_COLUMNS, DTMF_ROWS, DtmfDetector } from '../../src/audio/dtmf.js';
import { fixturePath } from './fixtures.js';

export const KEYPAD = '123A456B789C*0#D';

/** A small deterministic generator (mulberry32): tests must not depend on Math.random. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal deviate from two uniforms (Box-Muller). */
export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function frequenciesOf(digit: string): { row: number; col: number } {
  const i = KEYPAD.indexOf(digit);
  if (i < 0) throw new Error(`not a DTMF digit: ${digit}`);
  return { row: DTMF_ROWS[Math.floor(i / 4)] ?? 0, col: DTMF_COLUMNS[i % 4] ?? 0 };
}

export interface Press {
  readonly digit: string;
  /** Seconds from the start of the buffer. */
  readonly at: number;
  readonly seconds: number;
  /** Peak amplitude of the low (row) tone. */
  readonly level?: number;
  /** dB of the high tone above the low one (positive: reverse twist). */
  readonly twistDb?: number;
  /** Relative deviation of both frequencies, e.g. 0.015. */
  readonly deviation?: number;
}

/** Adds the key presses into `out` (mono, at `rate`). */
export function addPresses(out: Float32Array, rate: number, presses: readonly Press[], rand = seeded(7)): void {
  for (const p of presses) {
    const { row, col } = frequenciesOf(p.digit);
    const low = p.level ?? 0.3;
    const high = low * 10 ** ((p.twistDb ?? 0) / 20);
    const f1 = row * (1 + (p.deviation ?? 0));
    const f2 = col * (1 + (p.deviation ?? 0));
    const ph1 = rand() * 2 * Math.PI; const ph2 = rand() * 2 * Math.PI;
    const from = Math.round(p.at * rate);
    const to = Math.min(out.length, from + Math.round(p.seconds * rate));
    for (let n = from; n < to; n++) {
      const t = (n - from) / rate;
      out[n] = (out[n] ?? 0) + low * Math.sin(2 * Math.PI * f1 * t + ph1) + high * Math.sin(2 * Math.PI * f2 * t + ph2);
    }
  }
}

/** White Gaussian noise of the given RMS, added into `out`. */
export function addNoise(out: Float32Array, rms: number, rand: () => number): void {
  for (let n = 0; n < out.length; n++) out[n] = (out[n] ?? 0) + rms * gaussian(rand);
}

/** Mean power of a two-tone press: what an SNR is measured against. */
export function pressPower(p: Press): number {
  const low = p.level ?? 0.3;
  const high = low * 10 ** ((p.twistDb ?? 0) / 20);
  return (low * low + high * high) / 2;
}

/**
 * Talk-off material, one second at a time: speech-band noise (filtered, syllable-shaped),
 * voiced sounds (a gliding pitch with its harmonics and formant-like weights), and music-like
 * tones (chords of notes with harmonics, some held, some gliding). `second` picks the kind.
 */
export function talkOffSecond(rate: number, second: number, rand: () => number): Float32Array {
  const out = new Float32Array(rate);
  const kind = second % 3;
  if (kind === 0) {
    // Noise through two formant-like resonators (300..3400 Hz), in syllables of 200 ms.
    const centres = [300 + rand() * 900, 1000 + rand() * 2400];
    const r = 0.9;
    const state = centres.map(() => [0, 0]);
    for (let n = 0; n < rate; n++) {
      const env = Math.max(0, Math.sin((Math.PI * n * 5) / rate));
      const x = gaussian(rand);
      let y = 0;
      centres.forEach((c, i) => {
        const s = state[i] ?? [0, 0];
        const v = x + 2 * r * Math.cos((2 * Math.PI * c) / rate) * (s[0] ?? 0) - r * r * (s[1] ?? 0);
        s[1] = s[0] ?? 0; s[0] = v; y += v;
      });
      out[n] = y * env * 0.02;
    }
    return out;
  }
  if (kind === 1) {
    const f0 = 80 + rand() * 220; const glide = (rand() - 0.5) * 100;
    const formants = [300 + rand() * 600, 900 + rand() * 1500, 2000 + rand() * 1000];
    for (let h = 1; h * f0 < Math.min(3800, rate / 2); h++) {
      const gain = formants.reduce((g, f) => g + Math.exp(-(((h * f0 - f) / 150) ** 2)), 0.05) / h ** 0.5;
      const ph = rand() * 2 * Math.PI;
      for (let n = 0; n < rate; n++) {
        const t = n / rate;
        out[n] = (out[n] ?? 0) + 0.08 * gain * Math.sin(2 * Math.PI * h * (f0 * t + (glide * t * t) / 2) + ph);
      }
    }
    return out;
  }
  // Two notes of a scale at once, each with a few harmonics: the sound of hold music.
  const notes = [0, 1].map(() => 220 * 2 ** (Math.floor(rand() * 36) / 12));
  const vibrato = rand() < 0.5 ? 0 : 4;
  for (const f of notes) {
    for (let h = 1; h <= 4 && h * f < rate / 2; h++) {
      const ph = rand() * 2 * Math.PI;
      for (let n = 0; n < rate; n++) {
        const t = n / rate;
        const fm = vibrato ? 0.005 * f * h * Math.sin(2 * Math.PI * 5 * t) / (2 * Math.PI * 5) : 0;
        out[n] = (out[n] ?? 0) + (0.2 / h) * Math.sin(2 * Math.PI * h * f * t + 2 * Math.PI * fm + ph);
      }
    }
  }
  return out;
}

/**
 * `count` key presses at the edges of Q.24: 40 ms each, 40..60 ms apart, every digit in turn,
 * twist -6 and +6 dB alternately, frequencies off by -1.5 %, 0 or +1.5 %, levels from -30 to
 * -6 dBFS; white noise 15 dB below each press (its own power). Returns the samples and the
 * presses with their times.
 */
export function edgeOfQ24(rate: number, count: number, seed = 1): { samples: Float32Array; presses: Press[] } {
  const rand = seeded(seed);
  const presses: Press[] = [];
  let at = 0.05;
  for (let i = 0; i < count; i++) {
    const gap = 0.04 + rand() * 0.02;
    presses.push({
      digit: KEYPAD[i % 16] ?? '1', at: at + gap / 2, seconds: 0.04, twistDb: i % 2 === 0 ? -6 : 6,
      deviation: [-0.015, 0, 0.015][Math.floor(i / 2) % 3] ?? 0, level: 10 ** ((-30 + rand() * 24) / 20),
    });
    at += 0.04 + gap;
  }
  const samples = new Float32Array(Math.ceil((at + 0.05) * rate));
  addPresses(samples, rate, presses, rand);
  // Each press's own stretch (with the pauses either side) gets noise 15 dB below its power.
  presses.forEach((p, i) => {
    const from = Math.round((i === 0 ? 0 : p.at - 0.02) * rate);
    const next = presses[i + 1];
    const to = next ? Math.round((next.at - 0.02) * rate) : samples.length;
    addNoise(samples.subarray(from, to), Math.sqrt(pressPower(p) / 10 ** 1.5), rand);
  });
  return { samples, presses };
}

/**
 * The key presses mixed into the speech of test/fixtures/recordings/call-ulaw-8k-mono.wav to make
 * test/fixtures/dtmf/ (see its README): one press, a card number, its code, one more press.
 */
export const FIXTURE_PRESSES: readonly Press[] = [
  { digit: '5', at: 1, seconds: 0.08, level: 0.4 },
  ...[...'4111111111111111'].map((digit, i) => ({ digit, at: 3 + i * 0.25, seconds: 0.07, level: 0.4 })),
  ...[...'123'].map((digit, i) => ({ digit, at: 10.5 + i * 0.3, seconds: 0.07, level: 0.4 })),
  { digit: '#', at: 15, seconds: 0.1, level: 0.4 },
];

/** A whole (small) recording decoded: its rate and one array per channel. */
export async function decodeAll(bytes: Buffer, type: string): Promise<{ rate: number; channels: Float32Array[] }> {
  const blocks: Float32Array[][] = [];
  let rate = 0;
  for await (const b of decodeAudio(Readable.from([bytes]), type)) { rate = b.sampleRate; blocks.push(b.channels.map((c) => c.slice())); }
  return { rate, channels: Array.from({ length: blocks[0]?.length ?? 0 }, (_, c) => concat(blocks.map((b) => b[c] as Float32Array))) };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Peak amplitude of the tone at `f` Hz within samples [from, to) (one Goertzel filter). */
export function toneLevel(x: Float32Array, from: number, to: number, f: number, rate: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / rate);
  let s1 = 0; let s2 = 0;
  for (let n = from; n < to; n++) { const s0 = (x[n] ?? 0) + c * s1 - s2; s2 = s1; s1 = s0; }
  return (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2))) / (to - from);
}

/** The detector finds nothing in `x`, and neither tone of any press has energy where it sounded. */
export function assertNoKeyTones(x: Float32Array, rate: number, presses: readonly Press[], label: string): void {
  const d = new DtmfDetector(rate);
  assert.deepEqual([...d.push(x), ...d.flush()], [], `${label}: the detector finds no key press left`);
  for (const p of presses) {
    const { row, col } = frequenciesOf(p.digit);
    const from = Math.round(p.at * rate); const to = Math.round((p.at + p.seconds) * rate);
    for (const f of [row, col]) assert.ok(toneLevel(x, from, to, f, rate) < 1e-3, `${label}: no ${f} Hz energy where ${p.digit} was pressed`);
  }
}

/** The sample call (8 kHz mono) with FIXTURE_PRESSES mixed in, as test/fixtures/dtmf/ was made. */
export async function callWithPresses(): Promise<Float32Array> {
  const { channels } = await decodeAll(await readFile(fixturePath('call-ulaw-8k-mono.wav')), 'audio/wav');
  const speech = channels[0] ?? new Float32Array(0);
  addPresses(speech, 8000, FIXTURE_PRESSES, seeded(15));
  return speech;
}
