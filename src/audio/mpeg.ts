import { MPEGDecoder } from 'mpg123-decoder';
import { AudioDecodeError } from './errors.js';
import { BlockCounter, slices } from './compressed.js';
import type { PcmBlock } from './types.js';

const ID3_HEADER = 10;
/** How far past the ID3 tag the first frame header is looked for before giving up on it. */
const FRAME_SEARCH = 64 * 1024;

function isFrameHeader(b: Buffer, at: number): boolean {
  const b1 = b[at + 1];
  const b2 = b[at + 2];
  return b[at] === 0xff && (b1 & 0xe0) === 0xe0 && ((b1 >> 3) & 3) !== 1 && ((b1 >> 1) & 3) !== 0
    && ((b2 >> 4) & 0xf) !== 0xf && ((b2 >> 2) & 3) !== 3;
}

/**
 * mpg123 always hands back two channels; a mono MP3 comes out duplicated. The first frame header's
 * channel mode (11 = single channel) says which, so a mono recording decodes to one channel. The
 * header is found as bytes stream by: past an ID3v2 tag (of any size), then the first frame sync.
 */
class ChannelModeProbe {
  /** File offset of pending[0]. */
  private base = 0;
  private pending = Buffer.alloc(0);
  private skipTo: number | null = null;
  mono: boolean | null = null;

  feed(chunk: Buffer): void {
    if (this.mono !== null) return;
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.skipTo === null) {
      if (bytes.length < ID3_HEADER) { this.pending = Buffer.from(bytes); return; }
      const size = ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f);
      const tagged = bytes.toString('latin1', 0, 3) === 'ID3';
      this.skipTo = tagged ? ID3_HEADER + size + (bytes[5] & 0x10 ? ID3_HEADER : 0) : 0;
    }
    const from = Math.max(0, this.skipTo - this.base);
    for (let at = from; at + 4 <= bytes.length; at++) {
      if (isFrameHeader(bytes, at)) {
        this.mono = ((bytes[at + 3] >> 6) & 3) === 3;
        this.pending = Buffer.alloc(0);
        return;
      }
    }
    if (this.base + bytes.length > this.skipTo + FRAME_SEARCH) { this.mono = false; return; }
    // Keep only the tail a header straddling the next chunk needs (nothing while inside the tag).
    const keep = Math.min(bytes.length, Math.max(from, bytes.length - 3));
    this.base += keep;
    this.pending = Buffer.from(bytes.subarray(keep));
  }
}

/** Decodes MPEG audio (MP3, also layers I/II) with mpg123 compiled to WASM, slice by slice. */
export async function* decodeMpeg(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  const decoder = new MPEGDecoder();
  await decoder.ready;
  const probe = new ChannelModeProbe();
  const counter = new BlockCounter((from, to) => new AudioDecodeError(`The MP3 changes from ${from} to ${to} channels`));
  let errors = 0;
  try {
    for await (const chunk of source) {
      for (const slice of slices(chunk)) {
        probe.feed(slice);
        const out = decoder.decode(slice);
        errors += out.errors.length;
        const channels = probe.mono ? out.channelData.slice(0, 1) : out.channelData;
        const block = counter.next(channels, out.samplesDecoded, out.sampleRate);
        if (block) yield block;
      }
    }
  } finally {
    decoder.free();
  }
  if (counter.frames === 0) throw new AudioDecodeError(`No MPEG audio frames could be decoded${errors ? ` (${errors} errors)` : ''}`);
}
