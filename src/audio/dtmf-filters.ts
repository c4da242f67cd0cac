import type { CodedSamples } from './dtmf-block.js';

/**
 * The filters of the DTMF detector (dtmf.ts): Goertzel filters, four frequencies at a time over
 * a block of float samples, and the screen that lets most blocks of loud noise skip them.
 *
 * The loops are written for V8: typed arrays read without fallbacks, no call or allocation per
 * sample, and each recurrence as (x - s2) + c * s1, so that only the multiply and one add wait on
 * the previous sample (v + c * s1 - s2 makes the subtraction wait as well: a third longer chain).
 */

export interface Bank {
  readonly freqs: readonly number[];
  /** 2 cos(w), cos(w), sin(w) per frequency. */
  readonly coef: Float64Array; readonly cos: Float64Array; readonly sin: Float64Array;
  /** The nominal phase turn over one block, w * blockLength, per frequency, and its cos and sin. */
  readonly turn: Float64Array; readonly turnCos: Float64Array; readonly turnSin: Float64Array;
}

export function bank(freqs: readonly number[], sampleRate: number, block: number): Bank {
  const w = freqs.map((f) => (2 * Math.PI * f) / sampleRate);
  return {
    freqs, coef: Float64Array.from(w, (x) => 2 * Math.cos(x)), cos: Float64Array.from(w, Math.cos),
    sin: Float64Array.from(w, Math.sin), turn: Float64Array.from(w, (x) => x * block),
    turnCos: Float64Array.from(w, (x) => Math.cos(x * block)), turnSin: Float64Array.from(w, (x) => Math.sin(x * block)),
  };
}

/**
 * Four Goertzel filters over x[0, n) at once (independent chains, one pass over the samples).
 * Writes re, im of each into out[0..7], phase-referenced to the last sample: both halves of a
 * window share that reference, so magnitudes and phase turns are exact. Returns the samples'
 * energy, summed in the same pass.
 */
export function goertzel4(x: Float32Array, n: number, b: Bank, out: Float64Array): number {
  const c0 = b.coef[0]; const c1 = b.coef[1]; const c2 = b.coef[2]; const c3 = b.coef[3];
  let energy = 0;
  let a1 = 0; let a2 = 0; let b1 = 0; let b2 = 0; let d1 = 0; let d2 = 0; let e1 = 0; let e2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    energy += v * v;
    const a0 = (v - a2) + c0 * a1; a2 = a1; a1 = a0;
    const b0 = (v - b2) + c1 * b1; b2 = b1; b1 = b0;
    const d0 = (v - d2) + c2 * d1; d2 = d1; d1 = d0;
    const e0 = (v - e2) + c3 * e1; e2 = e1; e1 = e0;
  }
  out[0] = a1 - b.cos[0] * a2; out[1] = b.sin[0] * a2;
  out[2] = b1 - b.cos[1] * b2; out[3] = b.sin[1] * b2;
  out[4] = d1 - b.cos[2] * d2; out[5] = b.sin[2] * d2;
  out[6] = e1 - b.cos[3] * e2; out[7] = b.sin[3] * e2;
  return energy;
}

/** One Goertzel power at angular frequency w over the samples of `parts`, one after the other. */
export function goertzelPower(parts: readonly Float32Array[], w: number): number {
  const c = 2 * Math.cos(w);
  let s1 = 0; let s2 = 0;
  for (const x of parts) {
    for (let n = 0; n < x.length; n++) { const s0 = (x[n] - s2) + c * s1; s2 = s1; s1 = s0; }
  }
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/**
 * A cheap test that a stretch of samples cannot be mostly a key pair, run before any Goertzel
 * filter: y = (1 - a z^-1 + z^-2)(1 - b z^-1 + z^-2) x, zeros at 875 and 1555 Hz, keeps at most
 * 3.4 % of the energy of any tone the detector accepts (680..1675 Hz at 8 kHz, less at higher
 * rates), while white noise comes out with `noiseGain` times its energy (21 at 8 kHz, 68 at
 * 48 kHz) and no frequency with more than 4.3 times that. A stretch passes when its output
 * carries less than 0.4 noiseGain times its own energy. A key pair passes with a tenth of
 * its energy in any other sound of the telephone band (up to 3.4 kHz), or a twentieth at any
 * frequency (the detector asks the pair for nine tenths of a window), and white noise 15 dB
 * below it (Q.24's case) adds only a thirtieth of noiseGain. White noise at 8 kHz fails in 98
 * or 99 stretches of 5 ms out of 100; speech, its energy mostly below the key band, mostly
 * passes (and is analysed in full).
 */
export class KeyBandScreen {
  private readonly k1: number;
  private readonly k2: number;
  private readonly limit: number;

  constructor(sampleRate: number) {
    const a = 2 * Math.cos((2 * Math.PI * 875) / sampleRate);
    const b = 2 * Math.cos((2 * Math.PI * 1555) / sampleRate);
    this.k1 = a + b;
    this.k2 = 2 + a * b;
    const noiseGain = 2 + 2 * this.k1 * this.k1 + this.k2 * this.k2;
    this.limit = 0.4 * noiseGain;
  }

  /** Whether x[0, n) may hold a key pair; silence does not. */
  passes(x: Float32Array, n: number): boolean {
    const { k1, k2 } = this;
    let x1 = x[3]; let x2 = x[2]; let x3 = x[1]; let x4 = x[0];
    let output = 0; let input = 0;
    for (let i = 4; i < n; i++) {
      const v = x[i];
      const y = (v + x4) - k1 * (x1 + x3) + k2 * x2;
      output += y * y; input += x2 * x2;
      x4 = x3; x3 = x2; x2 = x1; x1 = v;
    }
    return output < this.limit * input;
  }

  /**
   * passes() over samples [from, from + n) of G.711 codes, decoded in the loop: for loud noise
   * the screen is most of the detector's work, and a decoding pass of its own would double it.
   */
  passesCoded(c: CodedSamples, from: number, n: number): boolean {
    const { k1, k2 } = this; const { codes, stride, table } = c;
    let o = c.first + from * stride;
    let x4 = table[codes[o]]; let x3 = table[codes[o + stride]]; let x2 = table[codes[o + 2 * stride]]; let x1 = table[codes[o + 3 * stride]];
    let output = 0; let input = 0;
    o += 4 * stride;
    for (let i = 4; i < n; i++, o += stride) {
      const v = table[codes[o]];
      const y = (v + x4) - k1 * (x1 + x3) + k2 * x2;
      output += y * y; input += x2 * x2;
      x4 = x3; x3 = x2; x2 = x1; x1 = v;
    }
    return output < this.limit * input;
  }
}
