import { EbmlReader, readFloat, readInt, readUint, readVint, EbmlError, UNKNOWN_SIZE } from './ebml.js';

/** Matroska element IDs the demuxer reads (IDs keep their length marker). */
const ID = {
  EBML: 0x1a45dfa3, DocType: 0x4282, Segment: 0x18538067, Tracks: 0x1654ae6b, TrackEntry: 0xae,
  TrackNumber: 0xd7, TrackType: 0x83, CodecID: 0x86, CodecPrivate: 0x63a2, Audio: 0xe1,
  Channels: 0x9f, SamplingFrequency: 0xb5, ContentEncodings: 0x6d80, Cluster: 0x1f43b675,
  SimpleBlock: 0xa3, BlockGroup: 0xa0, Block: 0xa1, DiscardPadding: 0x75a2,
} as const;
const AUDIO_TRACK = 2;

/**
 * The largest element held whole: a block (one audio frame, or a video frame of a file recorded
 * with video too) or a codec header. A file with larger blocks is refused rather than buffered.
 */
export const MAX_WEBM_ELEMENT = 8 * 1024 * 1024;

const PLAN = {
  enter: new Set<number>([ID.Segment, ID.Tracks, ID.TrackEntry, ID.Audio, ID.Cluster]),
  read: new Set<number>([ID.EBML, ID.TrackNumber, ID.TrackType, ID.CodecID, ID.CodecPrivate, ID.Channels,
    ID.SamplingFrequency, ID.ContentEncodings, ID.SimpleBlock, ID.BlockGroup]),
  maxBody: MAX_WEBM_ELEMENT,
};

export interface WebmTrack {
  number: number;
  type: number;
  codecId: string;
  codecPrivate: Buffer;
  channels: number;
  sampleRate: number;
  /** Compressed or encrypted blocks (ContentEncodings), which the vault does not undo. */
  encoded: boolean;
}

export interface WebmFrame {
  readonly data: Buffer;
  /** Nanoseconds of decoded audio to drop from the end of this frame (Matroska DiscardPadding). */
  readonly discardNs: number;
}

/** An EBML string: its bytes up to the first NUL padding, if any. */
function ebmlString(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString('latin1', 0, end === -1 ? body.length : end);
}

/** Children of a master held whole (EBML header, BlockGroup): ID and body, in order. */
function children(body: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let at = 0; at < body.length;) {
    const id = readVint(body, at, true);
    const size = id && readVint(body, at + id.length, false);
    if (!id || !size || size.value === UNKNOWN_SIZE) throw new EbmlError('a damaged element header');
    const from = at + id.length + size.length;
    if (from + size.value > body.length) throw new EbmlError('an element runs past its parent');
    out.push([id.value, body.subarray(from, from + size.value)]);
    at = from + size.value;
  }
  return out;
}

/** The frames of a Block or SimpleBlock body of the given track, undoing Xiph, EBML or fixed lacing. */
function blockFrames(body: Buffer): { track: number; frames: Buffer[] } {
  const track = readVint(body, 0, false);
  if (!track || body.length < track.length + 3) throw new EbmlError('a block too short for its header');
  let at = track.length + 3;
  const lacing = ((body[at - 1] ?? 0) >> 1) & 3;
  if (lacing === 0) return { track: track.value, frames: [body.subarray(at)] };
  const count = (body[at] ?? 0) + 1;
  at += 1;
  const sizes: number[] = [];
  for (let i = 0; i < count - 1; i++) {
    if (lacing === 1) {
      let size = 0;
      let byte = 255;
      while (byte === 255 && at < body.length) { byte = body[at++] ?? 0; size += byte; }
      sizes.push(size);
    } else if (lacing === 3) {
      const v = readVint(body, at, false);
      if (!v) throw new EbmlError('a block whose lacing runs past its end');
      at += v.length;
      sizes.push(i === 0 ? v.value : (sizes[i - 1] ?? 0) + v.value - (2 ** (7 * v.length - 1) - 1));
    }
  }
  if (lacing === 2) sizes.push(...Array<number>(count - 1).fill((body.length - at) / count));
  const frames: Buffer[] = [];
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 0 || at + size > body.length) throw new EbmlError('a block whose lacing does not add up');
    frames.push(body.subarray(at, at + size));
    at += size;
  }
  frames.push(body.subarray(at));
  return { track: track.value, frames };
}

/**
 * Demultiplexes WebM/Matroska as it streams: the EBML header, the track list, then the frames of
 * the first audio track from SimpleBlocks and BlockGroups of every Cluster (of known or unknown
 * size). Other tracks' blocks are dropped. Throws EbmlError on a layout it cannot follow.
 */
export class WebmDemuxer {
  private readonly reader = new EbmlReader(PLAN);
  private readonly tracks: WebmTrack[] = [];
  private tracksEnd: number | null = null;
  private docTypeSeen = false;
  /** Whether the track list has been read; from then on, `audio` is final. */
  tracksRead = false;
  audio: WebmTrack | null = null;

  /** The audio frames completed by this chunk. */
  push(chunk: Buffer): WebmFrame[] {
    const frames: WebmFrame[] = [];
    for (const event of this.reader.push(chunk)) {
      if (!this.tracksRead && (event.offset >= (this.tracksEnd ?? Infinity) || event.id === ID.Cluster)) this.closeTracks();
      if (event.kind === 'enter') this.enter(event.id, event.offset, event.size);
      else this.element(event.id, event.body, frames);
    }
    if (!this.tracksRead && this.reader.consumed >= (this.tracksEnd ?? Infinity)) this.closeTracks();
    return frames;
  }

  private enter(id: number, offset: number, size: number): void {
    if (!this.docTypeSeen) throw new EbmlError('the file does not start with an EBML header naming webm or matroska');
    if (id === ID.Tracks && size !== UNKNOWN_SIZE) this.tracksEnd = offset + size;
    if (id === ID.TrackEntry) this.tracks.push({ number: 0, type: 0, codecId: '', codecPrivate: Buffer.alloc(0), channels: 1, sampleRate: 8000, encoded: false });
  }

  private element(id: number, body: Buffer, frames: WebmFrame[]): void {
    if (id === ID.EBML) return this.header(body);
    if (id === ID.SimpleBlock) return this.block(body, 0, frames);
    if (id === ID.BlockGroup) {
      const parts = children(body);
      const block = parts.find(([child]) => child === ID.Block)?.[1];
      const discard = parts.find(([child]) => child === ID.DiscardPadding)?.[1];
      if (block) this.block(block, discard ? Math.max(0, readInt(discard)) : 0, frames);
      return;
    }
    const track = this.tracks.at(-1);
    if (!track || this.tracksRead) return;
    if (id === ID.TrackNumber) track.number = readUint(body);
    else if (id === ID.TrackType) track.type = readUint(body);
    else if (id === ID.CodecID) track.codecId = ebmlString(body);
    else if (id === ID.CodecPrivate) track.codecPrivate = Buffer.from(body);
    else if (id === ID.Channels) track.channels = readUint(body);
    else if (id === ID.SamplingFrequency) track.sampleRate = readFloat(body);
    else if (id === ID.ContentEncodings) track.encoded = true;
  }

  private header(body: Buffer): void {
    const docTypeBody = children(body).find(([child]) => child === ID.DocType)?.[1];
    const docType = docTypeBody && ebmlString(docTypeBody);
    if (docType !== 'webm' && docType !== 'matroska') throw new EbmlError(`the EBML document type is ${docType ?? 'missing'}, not webm or matroska`);
    this.docTypeSeen = true;
  }

  private block(body: Buffer, discardNs: number, frames: WebmFrame[]): void {
    if (!this.tracksRead) this.closeTracks();
    const { track, frames: data } = blockFrames(body);
    if (track !== this.audio?.number) return;
    data.forEach((frame, i) => frames.push({ data: frame, discardNs: i === data.length - 1 ? discardNs : 0 }));
  }

  private closeTracks(): void {
    this.tracksRead = true;
    this.audio = this.tracks.find((t) => t.type === AUDIO_TRACK) ?? null;
  }
}
