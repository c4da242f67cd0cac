import { Readable } from 'node:stream';
import { AudioDecodeError, decodeAudio, writeSample, type PcmBlock } from '../audio/index.js';
import { openPlayback, type PlaybackDeps } from '../media/playback.js';
import type { Recording } from '../recordings/types.js';
import { fillValue, planFrames, type FramePlan } from './plan.js';
import type { RedactionOrder } from './types.js';
import { pcm16WavHeaderForFrames } from './wav.js';

/**
 * The compressed formats (MP3, FLAC, Ogg, WebM) cannot be rewritten in place: they are decoded
 * (src/audio) and the redacted version is stored as WAV PCM16 at the decoded rate and channel
 * count. A WAV header states its length up front, so the recording is decoded twice, streaming
 * both times: once to count its frames (and check the ranges against them), once to write them.
 * Times are those of the decoded audio, which is what a player plays.
 */
export async function openRedactedDecoded(deps: PlaybackDeps, r: Recording, order: RedactionOrder): Promise<Readable> {
  let frames = 0;
  let sampleRate = 0;
  let channels = 0;
  for await (const block of decodeAudio(await openPlayback(deps, r), r.contentType)) {
    frames += block.channels[0]?.length ?? 0;
    sampleRate = block.sampleRate;
    channels = block.channels.length;
  }
  if (frames === 0) throw new AudioDecodeError('The recording decoded to no samples');
  const plan = planFrames(order.ranges, order.fill, sampleRate, channels, frames);
  const header = pcm16WavHeaderForFrames(sampleRate, channels, frames);
  // The second read opens only once the body is read: a body destroyed before that (the staging
  // failed first) ends a generator that never ran, and would leave an object read open for ever.
  const blocks = async (): Promise<AsyncIterable<PcmBlock>> => decodeAudio(await openPlayback(deps, r), r.contentType);
  return Readable.from(pcm16Redacted(blocks, plan, header, frames, channels), { objectMode: false });
}

async function* pcm16Redacted(open: () => Promise<AsyncIterable<PcmBlock>>, plan: FramePlan, header: Buffer, frames: number, channels: number): AsyncGenerator<Buffer> {
  yield header;
  let written = 0;
  for await (const block of await open()) {
    const n = Math.min(block.channels[0]?.length ?? 0, frames - written);
    fillSpans(block, plan, n);
    const out = Buffer.alloc(n * channels * 2);
    for (let c = 0; c < channels; c++) {
      const samples = block.channels[c] ?? new Float32Array(n);
      for (let i = 0, at = c * 2; i < n; i++, at += channels * 2) writeSample('pcm16', samples[i] ?? 0, out, at);
    }
    written += n;
    yield out;
  }
  // The header promised `frames`: a second decoding that differs must not be stored.
  if (written !== frames) throw new AudioDecodeError('The recording decoded to a different length the second time');
}

/** Overwrites, in the block's own arrays, the samples the plan covers. */
function fillSpans(block: PcmBlock, plan: FramePlan, n: number): void {
  const first = block.startFrame;
  for (const span of plan.spans) {
    const lo = Math.max(span.start, first);
    const hi = Math.min(span.end, first + n);
    for (let c = 0; c < block.channels.length; c++) {
      if (span.channel !== null && span.channel !== c) continue;
      const samples = block.channels[c];
      if (!samples) continue;
      for (let f = lo; f < hi; f++) samples[f - first] = fillValue(plan, f);
    }
  }
}
