import type { PcmBlock } from './types.js';

/**
 * Waveform peaks: the minimum and maximum sample of each channel over consecutive buckets of
 * time, computed as blocks stream by. Buckets start at BASE_BUCKET_MS and double (neighbours
 * merged pairwise) whenever a recording would need more than MAX_COLUMNS of them, so memory is
 * fixed whatever the duration and a call of any length comes out as 1,024 to 2,048 columns
 * (fewer only for calls under about 20 s, which keep 10 ms buckets): about one column per pixel
 * of a page-wide player. Doubling keeps every bucket a whole number of samples, so the merged
 * result equals what the final bucket size would have produced directly.
 */
export const BASE_BUCKET_MS = 10;
export const MAX_COLUMNS = 2048;
/** Decimal places kept: 1e-4 of full scale is far below a pixel of any waveform. */
const PRECISION = 1e4;

export interface Peaks {
  readonly sampleRate: number;
  readonly channels: number;
  readonly durationMs: number;
  readonly bucketMs: number;
  /** Per channel: min0, max0, min1, max1, ... one pair per bucket. */
  readonly peaks: number[][];
}

export class PeakAccumulator {
  private sampleRate = 0;
  private bucketFrames = 0;
  private columns = 0;
  private frames = 0;
  private mins: Float32Array[] = [];
  private maxs: Float32Array[] = [];

  add(block: PcmBlock): void {
    if (this.bucketFrames === 0) this.start(block);
    if (block.sampleRate !== this.sampleRate || block.channels.length !== this.mins.length) {
      throw new Error('PCM blocks changed rate or channel count mid-stream');
    }
    const length = block.channels[0]?.length ?? 0;
    let frame = block.startFrame;
    let i = 0;
    while (i < length) {
      let column = Math.floor(frame / this.bucketFrames);
      while (column >= MAX_COLUMNS) {
        this.halve();
        column = Math.floor(frame / this.bucketFrames);
      }
      const end = Math.min(length, i + (column + 1) * this.bucketFrames - frame);
      this.open(column);
      for (let c = 0; c < block.channels.length; c++) this.scan(c, column, block.channels[c], i, end);
      frame += end - i;
      i = end;
    }
    this.frames = Math.max(this.frames, block.startFrame + length);
  }

  result(): Peaks {
    // `|| 0` folds -0, which JSON would write as 0 anyway.
    const round = (v: number): number => Math.round(v * PRECISION) / PRECISION || 0;
    const peaks = this.mins.map((mins, c) => {
      const out = new Array<number>(this.columns * 2);
      for (let j = 0; j < this.columns; j++) {
        out[2 * j] = round(mins[j]);
        out[2 * j + 1] = round((this.maxs[c])[j]);
      }
      return out;
    });
    const rate = this.sampleRate;
    return {
      sampleRate: rate, channels: this.mins.length,
      durationMs: rate ? Math.round((this.frames * 1000) / rate) : 0,
      bucketMs: rate ? (this.bucketFrames * 1000) / rate : BASE_BUCKET_MS,
      peaks,
    };
  }

  private start(block: PcmBlock): void {
    this.sampleRate = block.sampleRate;
    this.bucketFrames = Math.max(1, Math.round((block.sampleRate * BASE_BUCKET_MS) / 1000));
    this.mins = block.channels.map(() => new Float32Array(MAX_COLUMNS));
    this.maxs = block.channels.map(() => new Float32Array(MAX_COLUMNS));
  }

  /** Starts every column up to `column` (blocks are contiguous, so that is at most one). */
  private open(column: number): void {
    for (; this.columns <= column; this.columns++) {
      for (let c = 0; c < this.mins.length; c++) {
        (this.mins[c])[this.columns] = Infinity;
        (this.maxs[c])[this.columns] = -Infinity;
      }
    }
  }

  private scan(c: number, column: number, samples: Float32Array, from: number, to: number): void {
    const mins = this.mins[c];
    const maxs = this.maxs[c];
    let lo = mins[column];
    let hi = maxs[column];
    for (let k = from; k < to; k++) {
      const v = samples[k];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    mins[column] = lo;
    maxs[column] = hi;
  }

  /** Merges neighbouring columns pairwise and doubles the bucket. */
  private halve(): void {
    const merged = Math.ceil(this.columns / 2);
    for (let c = 0; c < this.mins.length; c++) {
      const mins = this.mins[c];
      const maxs = this.maxs[c];
      for (let j = 0; j < merged; j++) {
        const b = Math.min(2 * j + 1, this.columns - 1);
        mins[j] = Math.min(mins[2 * j], mins[b]);
        maxs[j] = Math.max(maxs[2 * j], maxs[b]);
      }
    }
    this.columns = merged;
    this.bucketFrames *= 2;
  }
}

/** Peaks of a whole decoded stream. */
export async function computePeaks(blocks: AsyncIterable<PcmBlock>): Promise<Peaks> {
  const acc = new PeakAccumulator();
  for await (const block of blocks) acc.add(block);
  return acc.result();
}
