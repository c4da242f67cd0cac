import { encodeSample } from './samples.js';
import type { WavCodec } from './types.js';

/**
 * What a masked span is filled with (tenant setting dtmfFill, docs/redaction.md): digital
 * silence, or a flat tone so that a listener hears that something was masked rather than a
 * dropped line. The tone is one sine below the lowest DTMF frequency (697 Hz), so it cannot
 * pair into a key press and carries nothing of the masked audio.
 */
export const MASK_FILLS = ['silence', 'tone'] as const;
export type MaskFill = (typeof MASK_FILLS)[number];

export const FILL_TONE_HZ = 400;
/** -20 dBFS: plainly audible, well below the keyed tones it replaces. */
export const FILL_TONE_LEVEL = 0.1;

/**
 * The fill's value at frame `frame` of the recording. The phase follows the frame index, so the
 * tone is the same whatever chunks the stream arrives in.
 */
export function fillValue(fill: MaskFill, frame: number, sampleRate: number): number {
  return fill === 'tone' ? FILL_TONE_LEVEL * Math.sin((2 * Math.PI * FILL_TONE_HZ * frame) / sampleRate) : 0;
}

/**
 * Writes the fill over frames [from, to) of `out`, interleaved frames of `channels` samples of
 * `codec` whose first is frame `first` of the recording; every channel gets the same value.
 */
export function writeFill(fill: MaskFill, out: Buffer, codec: WavCodec, channels: number, sampleRate: number, first: number, from: number, to: number): void {
  const sample = encodeSample(codec, 0);
  const frameBytes = sample.length * channels;
  if (fill === 'silence') {
    out.fill(sample, (from - first) * frameBytes, (to - first) * frameBytes);
    return;
  }
  for (let f = from; f < to; f++) {
    const value = encodeSample(codec, fillValue(fill, f, sampleRate));
    for (let c = 0, at = (f - first) * frameBytes; c < channels; c++, at += value.length) value.copy(out, at);
  }
}
