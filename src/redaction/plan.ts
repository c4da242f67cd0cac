import { UnprocessableContentError } from '../errors.js';
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
