import { UnprocessableContentError } from '../errors.js';
import type { SampleEncoding } from './wav.js';
import type { RedactionFill, RedactionRange } from './types.js';

/**
 * Ranges in milliseconds mapped onto frames. A frame is redacted when any part of the time it
 * covers falls inside a range: the first frame is floor(start × rate / 1000), the end frame
 * (exclusive) ceil(end × rate / 1000), so no sample that overlaps a range survives it.
 */
export interface FrameSpan {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  /** null: every channel. */
  readonly channel: number | null;
}

export interface FramePlan {
  readonly spans: readonly FrameSpan[];
  readonly fill: RedactionFill;
  readonly sampleRate: number;
}

export function durationMsOf(frames: number, sampleRate: number): number {
  return Math.ceil((frames * 1000) / sampleRate);
}

/** Refuses ranges outside the recording or naming a channel it does not have (422). */
export function planFrames(ranges: readonly RedactionRange[], fill: RedactionFill, sampleRate: number, channels: number, frames: number): FramePlan {
  const durationMs = durationMsOf(frames, sampleRate);
  const spans = ranges.map((r, i): FrameSpan => {
    if (r.startMs >= durationMs || r.endMs > durationMs) {
      throw new UnprocessableContentError(`ranges.${i}: ${r.startMs}-${r.endMs} ms is outside the recording, which lasts ${durationMs} ms`, 'redaction_range_outside');
    }
    if (r.channel !== undefined && r.channel >= channels) {
      throw new UnprocessableContentError(`ranges.${i}: channel ${r.channel} does not exist; the recording has ${channels} channel(s), numbered from 0`, 'redaction_range_outside');
    }
    return {
      start: Math.floor((r.startMs * sampleRate) / 1000), end: Math.min(frames, Math.ceil((r.endMs * sampleRate) / 1000)), channel: r.channel ?? null,
    };
  });
  return { spans, fill, sampleRate };
}

/** Whether any span covers (frame, channel). */
export function covers(plan: FramePlan, frame: number, channel: number): boolean {
  return plan.spans.some((s) => frame >= s.start && frame < s.end && (s.channel === null || s.channel === channel));
}

/** The tone fill: 1 kHz at -20 dBFS, its phase taken from the frame index so it is the same however the stream is cut. */
const TONE_HZ = 1000;
const TONE_LEVEL = 0.1;

export function fillValue(plan: FramePlan, frame: number): number {
  if (plan.fill === 'silence') return 0;
  return TONE_LEVEL * Math.sin((2 * Math.PI * TONE_HZ * frame) / plan.sampleRate);
}

/** G.711 µ-law of a 16-bit sample (ITU-T G.711, bias 0x84). */
export function mulawEncode(pcm: number): number {
  const sign = pcm < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(pcm), 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = ~(sign | (exponent << 4) | mantissa);
  return magnitude & 0xff;
}

/** G.711 A-law of a 16-bit sample (even bits inverted, 0x55). */
export function alawEncode(pcm: number): number {
  const sign = pcm >= 0 ? 0x80 : 0;
  const magnitude = Math.min(pcm >= 0 ? pcm : -pcm - 1, 32767) >> 3;
  let code: number;
  if (magnitude < 32) {
    code = magnitude >> 1;
  } else {
    let exponent = 1;
    while (magnitude >> (exponent + 5) > 0 && exponent < 7) exponent++;
    code = (exponent << 4) | ((magnitude >> exponent) & 0x0f);
  }
  return (sign | code) ^ 0x55;
}

/** The bytes of one sample of `value` (-1..1) in `encoding`, little-endian, written into `out` at `at`. */
export function encodeSample(encoding: SampleEncoding, bytesPerSample: number, value: number, out: Buffer, at: number): void {
  const v = Math.max(-1, Math.min(1, value));
  if (encoding === 'float') {
    if (bytesPerSample === 8) out.writeDoubleLE(v, at);
    else out.writeFloatLE(v, at);
    return;
  }
  const pcm16 = Math.round(v * 32767);
  if (encoding === 'mulaw') { out[at] = mulawEncode(pcm16); return; }
  if (encoding === 'alaw') { out[at] = alawEncode(pcm16); return; }
  if (bytesPerSample === 1) { out[at] = Math.round(v * 127) + 128; return; }
  const bits = bytesPerSample * 8;
  out.writeIntLE(Math.round(v * (2 ** (bits - 1) - 1)), at, bytesPerSample);
}
