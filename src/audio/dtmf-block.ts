import { type Bank, goertzel4, type KeyBandScreen } from './dtmf-filters.js';

/**
 * Samples of one channel handed to push(), read only where the analysis looks: the detector
 * screens half of every other block and reads the rest only around what passes.
 */
export interface SampleReader {
  readonly length: number;
  /** Writes samples [from, from + count) as floats into `into` from index `at`. */
  read(into: Float32Array, at: number, from: number, count: number): void;
  /** Set for one-byte codecs (G.711): the screen reads their codes in place, without decoding. */
  readonly coded?: CodedSamples;
}

/** Sample k is table[codes[first + k * stride]]. */
export interface CodedSamples {
  readonly codes: Uint8Array;
  readonly first: number;
  readonly stride: number;
  readonly table: Float32Array;
}

export function floatReader(samples: Float32Array): SampleReader {
  return { length: samples.length, read: (into, at, from, count) => into.set(samples.subarray(from, from + count), at) };
}

/**
 * One 10 ms block: its samples, read from the source as far as asked, and once a window is
 * analysed its filters (each computed once).
 */
export class Block {
  readonly samples: Float32Array;
  readonly rows = new Float64Array(8);
  energy = 0;
  private rowsDone = false;
  private readonly cols = new Float64Array(8);
  private colsDone = false;
  /** samples[0, ready) are read; sample k of the block is sample origin + k of `source`. */
  private ready = 0;
  private source: SampleReader | null = null;
  private origin = 0;

  constructor(length: number) {
    this.samples = new Float32Array(length);
  }

  /** The block reused for new samples. */
  clear(): void {
    this.rowsDone = false;
    this.colsDone = false;
    this.ready = 0;
  }

  attach(source: SampleReader, origin: number): void {
    this.source = source;
    this.origin = origin;
  }

  /** Reads the first `filled` samples and lets go of the source. */
  detach(filled: number): void {
    this.need(filled);
    this.source = null;
  }

  need(upTo: number): void {
    if (upTo <= this.ready || !this.source) return;
    this.source.read(this.samples, this.ready, this.origin + this.ready, upTo - this.ready);
    this.ready = upTo;
  }

  /** Whether the block's first n samples pass the screen; read in place when the source allows. */
  screened(screen: KeyBandScreen, n: number): boolean {
    const coded = this.source?.coded;
    if (coded && this.ready === 0 && this.origin >= 0) return screen.passesCoded(coded, this.origin, n);
    this.need(n);
    return screen.passes(this.samples, n);
  }

  analysed(rows: Bank): this {
    this.need(this.samples.length);
    if (!this.rowsDone) this.energy = goertzel4(this.samples, this.samples.length, rows, this.rows);
    this.rowsDone = true;
    return this;
  }

  columns(cols: Bank): Float64Array {
    if (!this.colsDone) goertzel4(this.samples, this.samples.length, cols, this.cols);
    this.colsDone = true;
    return this.cols;
  }
}
