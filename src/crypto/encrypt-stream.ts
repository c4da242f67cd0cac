import { createCipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  DEFAULT_SEGMENT_SIZE, assertKey, assertRecordingId, associatedData, createHeader, parseHeader, segmentNonce,
} from './layout.js';

export interface EncryptOptions {
  key: Buffer;
  recordingId: string;
  segmentSize?: number;
  /** Buffering of each side of the stream, in bytes (node's default when omitted). */
  highWaterMark?: number;
}

export type EncryptStream = Transform & { readonly header: Buffer };

/**
 * Plaintext in, whole object out (header first). A full segment is sealed only once a later byte
 * proves it is not the final one, so at most one segment of plaintext is held back; memory stays
 * at about two segments whatever the recording size.
 */
class SegmentSealer extends Transform {
  readonly header: Buffer;
  private key: Buffer | null;
  private readonly aad: Buffer;
  private readonly noncePrefix: Buffer;
  private readonly segmentSize: number;
  /** Scratch for a segment assembled from several chunks. */
  private scratch: Buffer;
  /** The held-back plaintext: `scratch`, or a whole segment viewed in place in one input chunk. */
  private pending: Buffer;
  private fill = 0;
  private index = 0;
  private headerSent = false;

  constructor(opts: EncryptOptions) {
    super({ highWaterMark: opts.highWaterMark });
    assertKey(opts.key);
    assertRecordingId(opts.recordingId);
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.header = createHeader(this.segmentSize);
    this.noncePrefix = parseHeader(this.header).noncePrefix;
    this.aad = associatedData(this.header, opts.recordingId);
    this.key = opts.key;
    this.scratch = Buffer.allocUnsafe(this.segmentSize);
    this.pending = this.scratch;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.absorb(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.pending.subarray(0, this.fill), true);
      this.release();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.release();
    callback(err);
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  /**
   * Invariant between calls: 0 <= fill <= S, a full pending segment has not been sealed, and
   * pending is scratch unless it is full. Whole segments inside one chunk are never copied: those
   * followed by more input are sealed in place, and one that ends the chunk is held as a view
   * (stream chunks are not modified once written, so the view stays valid).
   */
  private absorb(chunk: Buffer): void {
    const size = this.segmentSize;
    let off = 0;
    while (off < chunk.length) {
      if (this.fill === size) {
        this.seal(this.pending, false);
        this.fill = 0;
        this.pending = this.scratch;
      }
      if (this.fill === 0 && chunk.length - off >= size) {
        const whole = chunk.subarray(off, off + size);
        off += size;
        if (off < chunk.length) {
          this.seal(whole, false);
        } else {
          this.pending = whole;
          this.fill = size;
        }
        continue;
      }
      const n = Math.min(size - this.fill, chunk.length - off);
      chunk.copy(this.pending, this.fill, off, off + n);
      this.fill += n;
      off += n;
    }
  }

  private seal(plaintext: Buffer, last: boolean): void {
    if (this.key === null) throw new Error('encrypt stream already finished');
    const nonce = segmentNonce(this.noncePrefix, this.index, last);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: 16 });
    cipher.setAAD(this.aad);
    const body = cipher.update(plaintext);
    cipher.final();
    this.index += 1;
    if (body.length > 0) this.push(body);
    this.push(cipher.getAuthTag());
  }

  private release(): void {
    this.key = null;
    this.scratch = Buffer.alloc(0);
    this.pending = this.scratch;
  }
}

export function createEncryptStream(opts: EncryptOptions): EncryptStream {
  return new SegmentSealer(opts);
}
