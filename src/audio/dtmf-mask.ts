import { UnsupportedMediaTypeError } from '../errors.js';
import { canDecode, decodeAudio } from './decode.js';
import { type MaskFill, writeFill } from './dtmf-fill.js';
import { DtmfMaskPlanner, type FrameSpan } from './dtmf-plan.js';
import { AudioDecodeError } from './errors.js';
import type { SampleReader } from './dtmf.js';
import { prepend } from './prepend.js';
import { ALAW_TABLE, decodeSamples, ULAW_TABLE, writeSample } from './samples.js';
import type { WavInfo } from './types.js';
import { pcm16WavHeader, wavPieces } from './wav.js';

/**
 * DTMF masking as a stage of the ingest stream, between the received bytes and encryption: the
 * key presses (and card entry, dtmf-plan.ts) are silenced, or replaced by a flat tone
 * (dtmf-fill.ts), before anything is stored. A WAV keeps its bytes and format, samples
 * rewritten in place; every compressed format ingest accepts (MP3, Ogg/Opus, Ogg/Vorbis, FLAC,
 * WebM/Opus) is decoded and stored as WAV PCM16, since no encoder for them is at hand. Samples
 * are held back only until the planner has decided them (its horizon), so memory stays bounded
 * whatever the recording's length.
 */

/** A masked stretch, in milliseconds from the start of the recording. */
export interface MaskedSpan { readonly startMs: number; readonly endMs: number }

/** What the stage did, read once the stream has ended. */
export interface DtmfMaskReport {
  /** Media type of the bytes the stage passed on: the received one, or audio/wav when decoded. */
  contentType: string | null;
  /** True when the recording was decoded and is stored as WAV PCM16. */
  transcoded: boolean;
  spans: MaskedSpan[];
}

export const TRANSCODED_TYPE = 'audio/wav';

/**
 * Told of every byte that passes the stage, in order: bytes stored as received (`same`), and
 * where masking or transcoding rewrote them, the received bytes and what is stored instead.
 * Ingest hashes both sides through it (src/lib/forking-digest.ts).
 */
export interface MaskTap {
  same(bytes: Buffer): void;
  received(bytes: Buffer): void;
  stored(bytes: Buffer): void;
}

const NO_TAP: MaskTap = { same: () => undefined, received: () => undefined, stored: () => undefined };

/** A stretch of the output and the received bytes it stands for (one buffer where nothing changed). */
interface Piece { readonly received: Buffer; readonly stored: Buffer }

const unchanged = (bytes: Buffer): Piece => ({ received: bytes, stored: bytes });

/** Whether masking can take recordings of this (sniffed) media type. */
export function canMask(mediaType: string): boolean {
  return mediaType === 'audio/wav' || canDecode(mediaType);
}

/**
 * The masking stage for a stream whose media type `mediaType()` tells once its first bytes have
 * passed the sniffer. Refuses (415) a type no decoder reads (the sniffer lets none through; this
 * guards a writer that skips it): with masking on, a recording that cannot be checked for key
 * presses is not stored. Bytes of a known type that do not decode fail with 422.
 */
export function dtmfMaskStage(mediaType: () => string | null, report: DtmfMaskReport, fill: MaskFill = 'silence', tap: MaskTap = NO_TAP): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* mask(source) {
    // The type is known once the sniffer has passed the first bytes on, not when the stage starts.
    const it = source[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) return;
    const type = mediaType() ?? '';
    if (!canMask(type)) {
      throw new UnsupportedMediaTypeError(`This tenant masks DTMF at ingest, and recordings of type ${type || 'unknown'} cannot be decoded to mask them; send WAV, MP3, FLAC, Ogg with Opus or Vorbis, or WebM with Opus`);
    }
    const all = prepend(first.value, it);
    if (type === 'audio/wav') {
      report.contentType = type;
      for await (const piece of maskWav(all, report, fill)) {
        if (piece.stored === piece.received) tap.same(piece.stored);
        else { tap.received(piece.received); tap.stored(piece.stored); }
        yield piece.stored;
      }
    } else {
      report.contentType = TRANSCODED_TYPE;
      report.transcoded = true;
      for await (const out of maskDecoded(tapped(all, tap), type, report, fill)) {
        tap.stored(out);
        yield out;
      }
    }
  };
}

async function* tapped(source: AsyncIterable<Buffer>, tap: MaskTap): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    tap.received(chunk);
    yield chunk;
  }
}

async function* maskWav(source: AsyncIterable<Buffer>, report: DtmfMaskReport, fill: MaskFill): AsyncGenerator<Piece> {
  let wav: WavMasker | null = null;
  for await (const piece of wavPieces(source)) {
    if (piece.kind === 'head') {
      yield unchanged(piece.bytes);
      wav = new WavMasker(piece.info, fill);
    } else if (piece.kind === 'frames') {
      if (wav) yield* wav.push(piece.bytes);
    } else if (piece.kind === 'end') {
      if (wav) yield* wav.end(piece.partial);
    } else {
      // After the data chunk (trailing metadata chunks) bytes pass as they are.
      yield unchanged(piece.bytes);
    }
  }
  if (wav) report.spans = wav.spans();
}

/** The samples of a WAV's data chunk, masked in place as the planner decides them. */
class WavMasker {
  private readonly planner: DtmfMaskPlanner;
  /** Whole frames not yet passed on; the first is frame `queued`. */
  private queue: Buffer[] = [];
  private queued = 0;

  constructor(private readonly info: WavInfo, private readonly fill: MaskFill) {
    this.planner = new DtmfMaskPlanner(info.sampleRate, info.channels, info.blockAlign);
  }

  /** Whole frames, passed on as far as the planner has decided them. */
  *push(frames: Buffer): Generator<Piece> {
    this.planner.push(this.channels(frames));
    this.queue.push(frames);
    yield* this.release(this.planner.horizon);
  }

  *end(partial: Buffer): Generator<Piece> {
    this.planner.finish();
    yield* this.release(Infinity);
    // A partial last frame is not a sample: it passes as it came.
    if (partial.length > 0) yield unchanged(partial);
  }

  spans(): MaskedSpan[] {
    return toMs(this.planner.masks(), this.queued, this.info.sampleRate);
  }

  private *release(upTo: number): Generator<Piece> {
    const align = this.info.blockAlign;
    const masks = this.queue.length > 0 ? this.planner.masks() : [];
    while (this.queue.length > 0 && this.queued < upTo) {
      const buf = this.queue[0] as Buffer;
      const frames = buf.length / align;
      const take = Math.min(frames, upTo - this.queued);
      let part = buf;
      if (take < frames) {
        part = buf.subarray(0, take * align);
        this.queue[0] = buf.subarray(take * align);
      } else {
        this.queue.shift();
      }
      yield { received: part, stored: this.silenced(part, this.queued, masks) };
      this.queued += take;
    }
  }

  /** `part` (frames from `first` on) with the masked frames filled, in a copy when any are. */
  private silenced(part: Buffer, first: number, masks: readonly FrameSpan[]): Buffer {
    const { blockAlign, codec, channels, sampleRate } = this.info;
    const last = first + part.length / blockAlign;
    let out: Buffer | null = null;
    for (const m of masks) {
      if (m.end <= first || m.start >= last) continue;
      out ??= Buffer.from(part);
      writeFill(this.fill, out, codec, channels, sampleRate, first, Math.max(m.start, first), Math.min(m.end, last));
    }
    return out ?? part;
  }

  /** Whole frames as one reader per channel: the detector decodes only the samples it looks at. */
  private channels(bytes: Buffer): SampleReader[] {
    const { blockAlign, bytesPerSample, codec, channels } = this.info;
    const length = bytes.length / blockAlign;
    const table = codec === 'mulaw' ? ULAW_TABLE : codec === 'alaw' ? ALAW_TABLE : null;
    return Array.from({ length: channels }, (_, c) => ({
      length,
      read: (into: Float32Array, at: number, from: number, count: number) => decodeSamples(codec, bytes, from * blockAlign + c * bytesPerSample, blockAlign, into, at, count),
      coded: table ? { codes: bytes, first: c * bytesPerSample, stride: blockAlign, table } : undefined,
    }));
  }
}

/**
 * A compressed recording decoded and written on as WAV PCM16 at the decoder's rate and channel
 * count. Its length is unknown until the end, so the header says so as a streamed WAV does
 * (RIFF and data sizes 0xFFFFFFFF: the samples run to the end of the file).
 */
async function* maskDecoded(source: AsyncIterable<Buffer>, mediaType: string, report: DtmfMaskReport, fill: MaskFill): AsyncGenerator<Buffer> {
  let planner: DtmfMaskPlanner | null = null;
  const pending: Float32Array[][] = [];
  let released = 0;
  let heard = 0;
  const release = function* (upTo: number): Generator<Buffer> {
    if (!planner) return;
    const masks = planner.masks();
    while (pending.length > 0 && released < upTo) {
      const block = pending[0] as Float32Array[];
      const frames = block[0]?.length ?? 0;
      const take = Math.min(frames, upTo - released);
      if (take < frames) pending[0] = block.map((c) => c.subarray(take));
      else pending.shift();
      yield pcm16Frames(block, take, released, masks, fill, planner.sampleRate);
      released += take;
    }
  };
  for await (const block of decodeAudio(source, mediaType)) {
    if (!planner) {
      planner = new DtmfMaskPlanner(block.sampleRate, block.channels.length);
      yield pcm16WavHeader(block.sampleRate, block.channels.length, null);
    }
    planner.push(block.channels);
    // The decoder may reuse its output arrays: what is held back is a copy.
    pending.push(block.channels.map((c) => c.slice()));
    heard += block.channels[0]?.length ?? 0;
    yield* release(planner.horizon);
  }
  if (!planner) throw new AudioDecodeError('The recording decoded to no samples; nothing was stored');
  planner.finish();
  yield* release(Infinity);
  report.spans = toMs(planner.masks(), heard, planner.sampleRate);
}

/** The first `frames` frames of `channels` (frame `first` on), interleaved PCM16, masks filled. */
function pcm16Frames(channels: readonly Float32Array[], frames: number, first: number, masks: readonly FrameSpan[], fill: MaskFill, sampleRate: number): Buffer {
  const count = channels.length;
  const out = Buffer.alloc(frames * count * 2);
  channels.forEach((samples, c) => {
    for (let i = 0, at = c * 2; i < frames; i++, at += count * 2) writeSample('pcm16', samples[i] ?? 0, out, at);
  });
  for (const m of masks) {
    const from = Math.max(m.start, first);
    const to = Math.min(m.end, first + frames);
    if (to > from) writeFill(fill, out, 'pcm16', count, sampleRate, first, from, to);
  }
  return out;
}


/** Frame spans as milliseconds, within the recording's `frames`. */
function toMs(spans: readonly FrameSpan[], frames: number, sampleRate: number): MaskedSpan[] {
  return spans
    .map((s) => ({ start: Math.max(0, s.start), end: Math.min(frames, s.end) }))
    .filter((s) => s.end > s.start)
    .map((s) => ({ startMs: Math.floor((s.start * 1000) / sampleRate), endMs: Math.ceil((s.end * 1000) / sampleRate) }));
}
