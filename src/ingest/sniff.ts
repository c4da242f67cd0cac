import { Transform, type TransformCallback } from 'node:stream';
import { UnsupportedMediaTypeError } from '../errors.js';
import { OGG_CODEC_PROBE_BYTES, oggCodec } from '../audio/ogg.js';
import { WebmDemuxer } from '../audio/webm-demux.js';

/**
 * Recognises the audio containers the vault accepts from their first bytes. The declared
 * Content-Type and file extension are not trusted: a recording is stored and later served with
 * the type its bytes prove.
 */
export const SNIFF_BYTES = 36;
/**
 * Ogg and WebM are containers: the codec inside is named in the first page (Ogg) or the track
 * list (WebM), which MediaRecorder and ffmpeg write within the first few KB. The head is read up
 * to this far to find it, and the upload refused when it is not there.
 */
export const MAX_SNIFF_BYTES = 64 * 1024;
const ACCEPTED = 'accepted: WAV, MP3, FLAC, Ogg with Opus or Vorbis, WebM with Opus';

/** The type of an accepted head, a refusal naming why, or null while more bytes are needed. */
export type Sniffed = { readonly type: string } | { readonly refused: string } | null;

export function sniffHead(head: Buffer, complete: boolean): Sniffed {
  const ascii = (start: number, end: number): string => head.subarray(start, end).toString('latin1');
  if (!complete && head.length < SNIFF_BYTES) return null;
  if ((ascii(0, 4) === 'RIFF' || ascii(0, 4) === 'RF64' || ascii(0, 4) === 'BW64') && ascii(8, 12) === 'WAVE') return { type: 'audio/wav' };
  if (ascii(0, 4) === 'OggS') return sniffOgg(head, complete);
  if (ascii(0, 4) === 'fLaC') return { type: 'audio/flac' };
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return sniffWebm(head, complete);
  if (ascii(0, 3) === 'ID3') return { type: 'audio/mpeg' };
  if (head.length >= 3 && isMpegAudioFrame(head)) return { type: 'audio/mpeg' };
  return { refused: `The body is not a recognised audio container; ${ACCEPTED}` };
}

/** The type of a recording from its head (as much as there is), or null when it is not accepted. */
export function sniffAudio(head: Buffer): string | null {
  const sniffed = sniffHead(head, true);
  return sniffed && 'type' in sniffed ? sniffed.type : null;
}

function sniffOgg(head: Buffer, complete: boolean): Sniffed {
  const codec = oggCodec(head);
  if (codec === null) return complete || head.length >= OGG_CODEC_PROBE_BYTES ? { refused: `The Ogg stream ends before its codec header; ${ACCEPTED}` } : null;
  if (codec === 'opus' || codec === 'vorbis') return { type: `audio/ogg; codecs=${codec}` };
  return { refused: `The Ogg stream holds ${codec === 'unknown' ? 'an unknown codec' : codec}; ${ACCEPTED}` };
}

function sniffWebm(head: Buffer, complete: boolean): Sniffed {
  const demuxer = new WebmDemuxer();
  try {
    demuxer.push(head);
  } catch (err) {
    return { refused: `The WebM file cannot be read (${err instanceof Error ? err.message : String(err)}); ${ACCEPTED}` };
  }
  if (!demuxer.tracksRead) {
    return complete || head.length >= MAX_SNIFF_BYTES ? { refused: `No WebM track list in the first ${Math.min(head.length, MAX_SNIFF_BYTES)} bytes; ${ACCEPTED}` } : null;
  }
  const codec = demuxer.audio?.codecId;
  if (codec === 'A_OPUS') return { type: 'audio/webm' };
  return { refused: `The WebM file holds ${codec ? `${codec} audio` : 'no audio track'}; ${ACCEPTED}` };
}

function isMpegAudioFrame(b: Buffer): boolean {
  const b1 = b[1] ?? 0;
  const b2 = b[2] ?? 0;
  const sync = b[0] === 0xff && (b1 & 0xe0) === 0xe0;
  const version = (b1 >> 3) & 0x3;
  const layer = (b1 >> 1) & 0x3;
  const bitrate = (b2 >> 4) & 0xf;
  const rate = (b2 >> 2) & 0x3;
  return sync && version !== 1 && layer !== 0 && bitrate !== 0xf && bitrate !== 0 && rate !== 3;
}

/** Passes bytes through once the head is recognised; fails the stream with 415 otherwise. */
export class AudioSniffer extends Transform {
  contentType: string | null = null;
  private head: Buffer[] = [];
  private headLength = 0;
  /**
   * The head is looked at again only once it has doubled (or the body ended): a client sending
   * tiny pieces would otherwise have the whole head joined and parsed again for each of them.
   */
  private nextLook = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.contentType) return done(null, chunk);
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < this.nextLook) return done();
    this.nextLook = this.headLength * 2;
    this.decide(false, done);
  }

  override _flush(done: TransformCallback): void {
    if (this.contentType || this.headLength === 0) return done();
    this.decide(true, done);
  }

  private decide(complete: boolean, done: TransformCallback): void {
    const all = this.head.length === 1 ? this.head[0] ?? Buffer.alloc(0) : Buffer.concat(this.head);
    this.head = [all];
    const sniffed = sniffHead(all, complete);
    if (sniffed === null) return done();
    if ('refused' in sniffed) return done(new UnsupportedMediaTypeError(sniffed.refused));
    this.head = [];
    this.contentType = sniffed.type;
    done(null, all);
  }
}
