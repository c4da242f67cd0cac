import { Transform, type TransformCallback } from 'node:stream';
import { writeSample } from '../audio/index.js';
import { fillValue, type FramePlan } from './plan.js';
import type { WavLayout } from './wav.js';

/**
 * Rewrites the samples a plan covers, in place, as the WAV streams through: every byte outside
 * them (header, other chunks, other channels, other frames) passes unchanged, so the result has
 * the original's format and size. Memory: one chunk, copied only when it holds redacted bytes.
 */
export class WavRedactor extends Transform {
  private offset = 0;
  private readonly dataEnd: number;
  private readonly sample: Buffer;

  constructor(private readonly layout: WavLayout, private readonly plan: FramePlan) {
    super();
    this.dataEnd = layout.dataOffset + layout.frames * layout.blockAlign;
    this.sample = Buffer.alloc(layout.bytesPerSample);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const from = this.offset;
    this.offset += chunk.length;
    let out: Buffer | null = null;
    for (const span of this.plan.spans) {
      const lo = Math.max(from, this.layout.dataOffset + span.start * this.layout.blockAlign);
      const hi = Math.min(this.offset, this.dataEnd, this.layout.dataOffset + span.end * this.layout.blockAlign);
      if (hi <= lo) continue;
      out ??= Buffer.from(chunk);
      this.overwrite(out, from, lo, hi, span.channel);
    }
    done(null, out ?? chunk);
  }

  /** Bytes [lo, hi) of the file, which lie in `buf` (starting at file offset `base`), for `channel` or all. */
  private overwrite(buf: Buffer, base: number, lo: number, hi: number, channel: number | null): void {
    const { dataOffset, blockAlign, bytesPerSample, codec } = this.layout;
    let lastSample = -1;
    for (let at = lo; at < hi; at++) {
      const rel = at - dataOffset;
      const frame = Math.floor(rel / blockAlign);
      const within = rel - frame * blockAlign;
      const ch = Math.floor(within / bytesPerSample);
      if (channel !== null && ch !== channel) continue;
      const sampleIndex = frame * blockAlign + ch * bytesPerSample;
      if (sampleIndex !== lastSample) {
        writeSample(codec, fillValue(this.plan, frame), this.sample, 0);
        lastSample = sampleIndex;
      }
      buf[at - base] = this.sample[within - ch * bytesPerSample] ?? 0;
    }
  }
}
