import { Transform, type TransformCallback } from 'node:stream';
import { UnsupportedMediaTypeError } from '../errors.js';

/**
 * Recognises the audio containers the vault accepts from their first bytes. The declared
 * Content-Type and file extension are not trusted: a recording is stored and later served with
 * the type its bytes prove.
 */
export const SNIFF_BYTES = 36;

export function sniffAudio(head: Buffer): string | null {
  const ascii = (start: number, end: number): string => head.subarray(start, end).toString('latin1');
  if ((ascii(0, 4) === 'RIFF' || ascii(0, 4) === 'RF64' || ascii(0, 4) === 'BW64') && ascii(8, 12) === 'WAVE') return 'audio/wav';
  if (ascii(0, 4) === 'OggS') return ascii(28, 36) === 'OpusHead' ? 'audio/ogg; codecs=opus' : 'audio/ogg';
  if (ascii(0, 4) === 'fLaC') return 'audio/flac';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'audio/webm';
  if (ascii(0, 3) === 'ID3') return 'audio/mpeg';
  if (head.length >= 3 && isMpegAudioFrame(head)) return 'audio/mpeg';
  return null;
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

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.contentType) return done(null, chunk);
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < SNIFF_BYTES) return done();
    this.decide(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.contentType || this.headLength === 0) return done();
    this.decide(done);
  }

  private decide(done: TransformCallback): void {
    const all = Buffer.concat(this.head);
    this.head = [];
    this.contentType = sniffAudio(all);
    if (!this.contentType) return done(new UnsupportedMediaTypeError('The body is not a recognised audio container (WAV, MP3, Ogg/Opus, FLAC, WebM)'));
    done(null, all);
  }
}
