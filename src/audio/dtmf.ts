/**
 * DTMF detection by a Goertzel bank: the eight frequencies of ITU-T Q.23 and the acceptance
 * rules of Q.24 (frequency deviation, twist, duration, interruption and pause, signal level,
 * energy of the pair relative to everything else). It reads float samples of one channel at any
 * rate: the coefficients are computed for the rate, nothing is resampled.
 *
 * Time is cut into 10 ms blocks; each pair of consecutive blocks is a 20 ms analysis window
 * (hop 10 ms). The two halves of a window give the frequency of each tone from the phase turn
 * between them, which is what tells a key tone within 1.5 % from a tone 3.5 % away (the bins of
 * a 20 ms window are 50 Hz wide, wider than the Q.24 tolerance). A digit is confirmed by two
 * consecutive windows (30 ms of steady tone, so a 40 ms press always confirms, while a press of
 * 20 ms or less never does), survives up to three failing windows (an interruption of 10 ms) and
 * ends after four (a 40 ms pause separates two presses of the same key). Before any window is
 * analysed, a cheap screen (dtmf-filters.ts) rules out the blocks that cannot be mostly a key
 * pair, such as loud noise, reading only the samples it needs (dtmf-block.ts).
 */

import { Block, floatReader, type SampleReader } from './dtmf-block.js';
import { bank, type Bank, goertzelPower, KeyBandScreen } from './dtmf-filters.js';

export type { SampleReader } from './dtmf-block.js';

export const DTMF_ROWS = [697, 770, 852, 941] as const;
export const DTMF_COLUMNS = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'] as const;

/** The Q.24 limits this detector applies; exported so that tests probe their edges. */
export const DTMF_LIMITS = {
  /** Accepted frequency deviation: Q.24 asks to accept 1.5 % and reject 3.5 %. */
  frequencyTolerance: 0.025,
  /** Level difference of the two tones, either way: Q.24 asks for at least 6 dB. */
  maxTwistDb: 9,
  /** Quietest tone accepted, as a peak amplitude of full scale (-40 dBFS). */
  minAmplitude: 0.01,
  /** The chosen tone of a group stands this far above the other three of its group. */
  relativePeakDb: 6,
  /** Share of the window's energy the two tones carry: speech, music and noise spread theirs. */
  minEnergyShare: 0.9,
  /** A second harmonic this close to its tone marks a voice or an instrument, not a key. */
  harmonicDb: 12,
  /** The two halves of a window carry the tone at levels this close: a steady tone, not an edge. */
  halfBalanceDb: 5,
} as const;

const BLOCK_SECONDS = 0.01;
const CONFIRM_WINDOWS = 2;
const END_AFTER_MISSES = 4;
/** Beyond this distance a high tone leaks less than -20 dB into a 20 ms window's bin. */
const HARMONIC_CLEARANCE_HZ = 200;

/** One key press: its digit and the samples it sounded, [start, end). */
export interface DtmfTone {
  readonly digit: string;
  readonly start: number;
  readonly end: number;
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

/** What a window says about one group (rows or columns): its strongest tone, or why not. */
interface GroupTone { readonly index: number; readonly frequency: number; readonly amplitude: number; readonly power: number }

/**
 * Detects key presses in one channel, fed in pieces of any length. Tones come back from push()
 * once they have ended (or from flush()); `settled` and `sounding` tell a streaming consumer how
 * far the past is decided.
 */
export class DtmfDetector {
  readonly blockLength: number;
  private readonly rows: Bank;
  private readonly cols: Bank;
  private prev: Block;
  private cur: Block;
  private fill = 0;
  /** Blocks completed so far; block b covers samples [b * blockLength, (b + 1) * blockLength). */
  private blocks = 0;
  /** The last even block passed the screen: the windows either side of it are analysed. */
  private hot = false;
  private readonly screen: KeyBandScreen;
  private readonly screenLength: number;
  /** Below this a block cannot hold half of an acceptable tone (a quarter of the least, for margin). */
  private readonly quietEnergy: number;
  private run: { digit: string; start: number; end: number; hits: number; misses: number } | null = null;

  constructor(readonly sampleRate: number) {
    this.blockLength = Math.max(8, Math.round(sampleRate * BLOCK_SECONDS));
    if (2 * DTMF_COLUMNS[3] >= sampleRate / 2) throw new RangeError(`DTMF detection needs a sample rate above ${4 * DTMF_COLUMNS[3]} Hz`);
    this.rows = bank(DTMF_ROWS, sampleRate, this.blockLength);
    this.cols = bank(DTMF_COLUMNS, sampleRate, this.blockLength);
    this.quietEnergy = (DTMF_LIMITS.minAmplitude ** 2 / 2) * this.blockLength / 4;
    this.screen = new KeyBandScreen(sampleRate);
    this.screenLength = Math.floor(this.blockLength / 2);
    this.prev = new Block(this.blockLength);
    this.cur = new Block(this.blockLength);
  }

  /** Samples before this index can no longer become part of a tone not yet reported. */
  get settled(): number {
    if (this.run) return this.run.start;
    return Math.max(0, (this.blocks - 1) * this.blockLength);
  }

  /** The confirmed press still sounding, if any: [start, end) heard so far. */
  get sounding(): { readonly start: number; readonly end: number } | null {
    const r = this.run;
    return r && r.hits >= CONFIRM_WINDOWS ? { start: r.start, end: r.end } : null;
  }

  push(input: Float32Array | SampleReader): DtmfTone[] {
    const source = input instanceof Float32Array ? floatReader(input) : input;
    const out: DtmfTone[] = [];
    this.cur.attach(source, -this.fill);
    let i = 0;
    while (i < source.length) {
      const n = Math.min(this.blockLength - this.fill, source.length - i);
      this.fill += n;
      i += n;
      if (this.fill === this.blockLength) {
        this.endBlock(out);
        this.cur.attach(source, i);
      }
    }
    // The source is the caller's only until this returns: what later windows may read is read now.
    this.prev.detach(this.blockLength);
    this.cur.detach(this.fill);
    return out;
  }

  /** Ends the stream: a press still sounding ends at the last complete block. */
  flush(): DtmfTone[] {
    const out: DtmfTone[] = [];
    this.close(out);
    return out;
  }

  /**
   * Each window (two consecutive blocks) holds exactly one even block, and a press long enough
   * to confirm (two windows: three blocks of tone) covers an even block whole. So only even
   * blocks are screened (dtmf-filters.ts), on their first half; the windows either side of one
   * that fails are not analysed, as no key pair can fill them, unless a press is under way: its
   * interruptions and its end are judged window by window.
   */
  private endBlock(out: DtmfTone[]): void {
    if (this.blocks % 2 === 0) {
      this.hot = this.cur.screened(this.screen, this.screenLength);
    }
    if (this.blocks > 0) this.step(this.hot || this.run ? this.evaluate() : null, out);
    this.blocks += 1;
    [this.prev, this.cur] = [this.cur, this.prev];
    this.cur.clear();
    this.fill = 0;
  }

  /** The digit the window of the previous and the current block carries, or null. */
  private evaluate(): string | null {
    const L = DTMF_LIMITS;
    const n = 2 * this.blockLength;
    const p = this.prev.analysed(this.rows); const c = this.cur.analysed(this.rows);
    const energy = p.energy + c.energy;
    // Rows first: most windows fail here, and the columns are then never computed.
    // Halves within halfBalanceDb of each other, each carrying a tone of minAmplitude: a quiet
    // block rules the window out before any trigonometry.
    if (Math.min(p.energy, c.energy) < this.quietEnergy) return null;
    const row = this.group(this.rows, p.rows, c.rows, energy * L.minEnergyShare / 8);
    if (!row) return null;
    const col = this.group(this.cols, p.columns(this.cols), c.columns(this.cols), energy * L.minEnergyShare / 8);
    if (!col) return null;
    if (Math.abs(db(row.amplitude / col.amplitude)) > L.maxTwistDb) return null;
    if (row.power + col.power < energy * L.minEnergyShare) return null;
    // A voice or an instrument has harmonics; a key has none. A low tone's second harmonic
    // (1394..1882 Hz) is looked at only where the key's own high tone is too far to leak into it.
    // Harmonics are looked for at twice the measured frequency, where they are.
    if (this.harmonic(col.frequency, n) > col.power * 10 ** (-L.harmonicDb / 10)) return null;
    const clear = Math.abs(2 * row.frequency - col.frequency) >= HARMONIC_CLEARANCE_HZ;
    if (clear && this.harmonic(row.frequency, n) > row.power * 10 ** (-L.harmonicDb / 10)) return null;
    return KEYS[row.index]?.[col.index] ?? null;
  }

  /** Power of the window at twice `f`, on the scale of GroupTone.power. */
  private harmonic(f: number, n: number): number {
    const w2 = (4 * Math.PI * f) / this.sampleRate;
    return (goertzelPower([this.prev.samples, this.cur.samples], w2) * 2) / n;
  }

  /**
   * The strongest tone of a group in the window, if it is one Q.24 accepts: loud enough, clear of
   * the other three, steady over both halves, on frequency, and carrying at least `minPower`.
   * Its amplitude and power are corrected for the window's response at the measured deviation.
   */
  private group(b: Bank, p: Float64Array, c: Float64Array, minPower: number): GroupTone | null {
    const L = DTMF_LIMITS;
    const H = this.blockLength;
    let best = -1; let bestSq = 0; let secondSq = 0;
    for (let k = 0; k < 4; k++) {
      // The window's DFT: the second half's result turned back by one block.
      const tc = b.turnCos[k] ?? 0; const ts = b.turnSin[k] ?? 0;
      const cr = c[2 * k] ?? 0; const ci = c[2 * k + 1] ?? 0;
      const re = (p[2 * k] ?? 0) + tc * cr + ts * ci;
      const im = (p[2 * k + 1] ?? 0) + tc * ci - ts * cr;
      const sq = re * re + im * im;
      if (sq > bestSq) { secondSq = bestSq; bestSq = sq; best = k; } else if (sq > secondSq) secondSq = sq;
    }
    // The correction below at most doubles an amplitude: what cannot pass even then stops here.
    if (best < 0 || (4 * bestSq) / H < minPower || 2 * Math.sqrt(bestSq) < L.minAmplitude * H) return null;
    if (bestSq <= secondSq * 10 ** (L.relativePeakDb / 10)) return null;
    const bestMag = Math.sqrt(bestSq);
    const pr = p[2 * best] ?? 0; const pi = p[2 * best + 1] ?? 0;
    const cr = c[2 * best] ?? 0; const ci = c[2 * best + 1] ?? 0;
    const halfP = Math.hypot(pr, pi); const halfC = Math.hypot(cr, ci);
    if (halfP === 0 || halfC === 0 || Math.abs(db(halfP / halfC)) > L.halfBalanceDb) return null;
    // The phase turned by w*H plus the deviation's share: the deviation is what remains.
    const turned = Math.atan2(ci * pr - cr * pi, cr * pr + ci * pi);
    const residue = wrap(turned - (b.turn[best] ?? 0));
    const deviation = (residue / H) * this.sampleRate / (2 * Math.PI);
    const nominal = b.freqs[best] ?? 1;
    if (Math.abs(deviation) > nominal * L.frequencyTolerance) return null;
    const response = windowResponse(deviation, 2 * H, this.sampleRate);
    const amplitude = (2 * bestMag) / (2 * H * response);
    const power = (amplitude * amplitude * 2 * H) / 2;
    if (amplitude < L.minAmplitude || power < minPower) return null;
    return { index: best, frequency: nominal + deviation, amplitude, power };
  }

  private step(digit: string | null, out: DtmfTone[]): void {
    const H = this.blockLength;
    const start = (this.blocks - 1) * H;
    const end = start + 2 * H;
    const r = this.run;
    if (r && digit === r.digit) {
      r.hits += 1; r.misses = 0; r.end = end;
      return;
    }
    if (r && r.hits >= CONFIRM_WINDOWS && digit === null && r.misses + 1 < END_AFTER_MISSES) {
      r.misses += 1;
      return;
    }
    this.close(out);
    if (digit !== null) this.run = { digit, start, end, hits: 1, misses: 0 };
  }

  private close(out: DtmfTone[]): void {
    const r = this.run;
    if (r && r.hits >= CONFIRM_WINDOWS) out.push({ digit: r.digit, start: r.start, end: r.end });
    this.run = null;
  }
}

function wrap(angle: number): number {
  return angle - 2 * Math.PI * Math.round(angle / (2 * Math.PI));
}

/** The largest correction applied: a factor of 2 in amplitude (accepted deviations need less). */
const MIN_RESPONSE = 0.5;

/** |Dirichlet kernel| of an n-sample rectangular window at `deviation` Hz, 1 on frequency. */
function windowResponse(deviation: number, n: number, sampleRate: number): number {
  const x = (Math.PI * deviation) / sampleRate;
  if (Math.abs(x) < 1e-9) return 1;
  return Math.max(MIN_RESPONSE, Math.abs(Math.sin(n * x) / (n * Math.sin(x))));
}
