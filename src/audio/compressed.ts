import type { PcmBlock } from './types.js';

/**
 * Compressed input is fed to the WASM decoders in slices of this size, so one slice's decoded
 * output (at most a few seconds of float samples) bounds a block, whatever chunk size arrives.
 */
export const FEED_BYTES = 8 * 1024;

export function* slices(chunk: Buffer): Generator<Buffer> {
  for (let at = 0; at < chunk.length; at += FEED_BYTES) yield chunk.subarray(at, at + FEED_BYTES);
}

/**
 * Numbers the frames of decoder output across blocks, keeping the channel count and rate fixed.
 * Output at another rate than the first is dropped: in damaged MPEG data, mpg123 may lock onto a
 * false frame sync whose header names another rate, and those few frames are noise.
 */
export class BlockCounter {
  private frame = 0;
  private channelCount: number | null = null;
  private rate: number | null = null;
  /** Frames dropped because they came at another rate. */
  dropped = 0;

  constructor(private readonly onChannelChange: (from: number, to: number) => Error) {}

  /** A block of the decoded channels, or null when the decoder produced nothing usable this time. */
  next(channels: Float32Array[], samples: number, sampleRate: number): PcmBlock | null {
    if (samples === 0 || channels.length === 0) return null;
    if (this.rate !== null && sampleRate !== this.rate) {
      this.dropped += samples;
      return null;
    }
    if (this.channelCount !== null && channels.length !== this.channelCount) throw this.onChannelChange(this.channelCount, channels.length);
    this.channelCount = channels.length;
    this.rate = sampleRate;
    const block: PcmBlock = { sampleRate, channels: channels.map((c) => c.subarray(0, samples)), startFrame: this.frame };
    this.frame += samples;
    return block;
  }

  get frames(): number { return this.frame; }
}

/** What the @wasm-audio-decoders chunk decoders hand back for each call. */
interface DecodedOutput {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: unknown[];
}

/** A WASM decoder fed raw container bytes in any split, holding back what it cannot decode yet. */
export interface ChunkDecoder {
  readonly ready: Promise<void>;
  decode(bytes: Uint8Array): Promise<DecodedOutput>;
  flush(): Promise<DecodedOutput>;
  free(): void;
}

/**
 * Feeds a recording to a chunk decoder slice by slice, yielding one block per slice that decoded
 * something. `fail` words the errors for the format; a stream with no sample at all fails too.
 */
export async function* decodeInSlices(source: AsyncIterable<Buffer>, decoder: ChunkDecoder, fail: (reason: string) => Error): AsyncGenerator<PcmBlock> {
  const counter = new BlockCounter((from, to) => fail(`it changes from ${from} to ${to} channels`));
  let errors = 0;
  const next = async (pending: Promise<DecodedOutput>): Promise<PcmBlock | null> => {
    let out: DecodedOutput;
    try {
      out = await pending;
    } catch (err) {
      throw fail(err instanceof Error ? err.message : String(err));
    }
    errors += out.errors.length;
    return counter.next(out.channelData, out.samplesDecoded, out.sampleRate);
  };
  try {
    await decoder.ready;
    for await (const chunk of source) {
      for (const slice of slices(chunk)) {
        const block = await next(decoder.decode(slice));
        if (block) yield block;
      }
    }
    const tail = await next(decoder.flush());
    if (tail) yield tail;
  } finally {
    decoder.free();
  }
  if (counter.frames === 0) throw fail(`no audio could be decoded${errors ? ` (${errors} damaged frames)` : ''}`);
}
