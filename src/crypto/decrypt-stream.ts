import { createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../errors.js';
import {
  HEADER_BYTES, TAG_BYTES, assertKey, assertPlaintextRange, assertPlaintextSize, assertRecordingId, associatedData,
  parseHeader, segmentCount, segmentNonce,
} from './layout.js';

export interface DecryptOptions {
  key: Buffer;
  recordingId: string;
  /** The object's first 16 bytes. */
  header: Buffer;
  /** Plaintext size of the whole recording, from the database row, never from the object. */
  plaintextSize: number;
  start?: number;
  endInclusive?: number;
}

export interface ObjectDecryptOptions {
  key: Buffer;
  recordingId: string;
  plaintextSize: number;
}

interface OpenerParams {
  key: Buffer;
  recordingId: string;
  header: Buffer;
  plaintextSize: number;
  start: number;
  endInclusive: number;
}

type Emit = (plaintext: Buffer) => void;

/**
 * Authenticates and decrypts segments firstSegment..lastSegment in order. Which segment is final
 * comes from the trusted plaintext size, not from the bytes, so a dropped tail, an extra segment
 * or a reordering makes a nonce or the length disagree and the tag check fail. Plaintext is emitted
 * only after its segment's tag has verified.
 */
class SegmentOpener {
  private key: Buffer | null;
  private readonly aad: Buffer;
  private readonly noncePrefix: Buffer;
  private readonly segmentSize: number;
  private readonly plaintextSize: number;
  private readonly finalSegment: number;
  private readonly firstSegment: number;
  private readonly lastSegment: number;
  private readonly start: number;
  private readonly endInclusive: number;
  /**
   * Views of the input chunks that hold the current segment so far (stream chunks are not
   * modified once written, so the views stay valid). A segment split across two chunks, as
   * 64 KiB reads split every sealed segment, is deciphered in two pieces rather than copied
   * together; one split across more is copied into `scratch` first, since every piece costs a
   * cipher call and a chunk downstream, and with 16 KiB reads those cost more than the copy.
   */
  private pieces: Buffer[] = [];
  private scratch: Buffer | null = null;
  private fill = 0;
  private index: number;

  constructor(p: OpenerParams) {
    const { segmentSize, noncePrefix } = parseHeader(p.header);
    this.key = p.key;
    this.aad = associatedData(p.header, p.recordingId);
    this.noncePrefix = noncePrefix;
    this.segmentSize = segmentSize;
    this.plaintextSize = p.plaintextSize;
    this.finalSegment = segmentCount(p.plaintextSize, segmentSize) - 1;
    this.start = p.start;
    this.endInclusive = p.endInclusive;
    this.firstSegment = Math.floor(p.start / segmentSize);
    // An empty range only occurs for the empty recording, whose one segment must still verify.
    this.lastSegment = p.endInclusive < p.start ? this.firstSegment : Math.floor(p.endInclusive / segmentSize);
    this.index = this.firstSegment;
  }

  write(chunk: Buffer, emit: Emit): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.index > this.lastSegment) throw new IntegrityError('Ciphertext continues past its final segment');
      const need = this.sealedSize(this.index);
      if (this.fill === 0 && chunk.length - off >= need) {
        this.open([chunk.subarray(off, off + need)], emit);
        off += need;
        continue;
      }
      const n = Math.min(need - this.fill, chunk.length - off);
      this.pieces.push(chunk.subarray(off, off + n));
      this.fill += n;
      off += n;
      if (this.fill === need) {
        const pieces = this.pieces.length <= 2 ? this.pieces : [this.join(this.pieces, need)];
        this.pieces = [];
        this.fill = 0;
        this.open(pieces, emit);
      }
    }
  }

  finish(): void {
    if (this.index <= this.lastSegment) throw new IntegrityError('Ciphertext is truncated');
    this.release();
  }

  release(): void {
    this.key = null;
    this.pieces = [];
    this.scratch = null;
  }

  private join(pieces: readonly Buffer[], length: number): Buffer {
    this.scratch ??= Buffer.allocUnsafe(this.segmentSize + TAG_BYTES);
    let at = 0;
    for (const piece of pieces) at += piece.copy(this.scratch, at);
    return this.scratch.subarray(0, length);
  }

  private sealedSize(index: number): number {
    const body = index === this.finalSegment ? this.plaintextSize - index * this.segmentSize : this.segmentSize;
    return body + TAG_BYTES;
  }

  /** `sealed`: the segment's body and tag, in order, split anywhere. */
  private open(sealed: Buffer[], emit: Emit): void {
    if (this.key === null) throw new Error('decrypt stream already finished');
    const index = this.index;
    const { body, tag } = splitTag(sealed);
    const nonce = segmentNonce(this.noncePrefix, index, index === this.finalSegment);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.aad);
    decipher.setAuthTag(tag);
    const plaintext = body.map((piece) => decipher.update(piece));
    try {
      decipher.final();
    } catch {
      throw new IntegrityError(`Segment ${index} failed authentication`);
    }
    this.index += 1;
    const base = index * this.segmentSize;
    const from = index === this.firstSegment ? this.start - base : 0;
    const to = index === this.lastSegment ? this.endInclusive - base + 1 : Number.POSITIVE_INFINITY;
    emitSlice(plaintext, from, to, emit);
  }
}

/** The last TAG_BYTES of `sealed` as the tag (copied only when it straddles pieces), the rest as body pieces. */
function splitTag(sealed: Buffer[]): { body: Buffer[]; tag: Buffer } {
  const last = sealed[sealed.length - 1] ?? Buffer.alloc(0);
  if (last.length >= TAG_BYTES) {
    const body = sealed.slice(0, -1);
    if (last.length > TAG_BYTES) body.push(last.subarray(0, last.length - TAG_BYTES));
    return { body, tag: last.subarray(last.length - TAG_BYTES) };
  }
  const body: Buffer[] = [];
  const tagParts: Buffer[] = [];
  let tagLeft = TAG_BYTES;
  for (let i = sealed.length - 1; i >= 0; i--) {
    const piece = sealed[i] ?? Buffer.alloc(0);
    const take = Math.min(tagLeft, piece.length);
    tagLeft -= take;
    if (take > 0) tagParts.unshift(piece.subarray(piece.length - take));
    if (piece.length > take) body.unshift(piece.subarray(0, piece.length - take));
  }
  return { body, tag: Buffer.concat(tagParts, TAG_BYTES) };
}

/** Emits bytes [from, to) of the concatenation of `parts`, without joining them. */
function emitSlice(parts: readonly Buffer[], from: number, to: number, emit: Emit): void {
  let at = 0;
  for (const part of parts) {
    const lo = Math.max(from - at, 0);
    const hi = Math.min(to - at, part.length);
    if (hi > lo) emit(lo === 0 && hi === part.length ? part : part.subarray(lo, hi));
    at += part.length;
  }
}

function runGuarded(callback: TransformCallback, step: () => void): void {
  try {
    step();
    callback();
  } catch (err) {
    callback(err as Error);
  }
}

class RangeDecryptStream extends Transform {
  private readonly opener: SegmentOpener;
  private readonly forward: Emit = (plaintext) => { this.push(plaintext); };

  constructor(opener: SegmentOpener) {
    super();
    this.opener = opener;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    runGuarded(callback, () => this.opener.write(chunk, this.forward));
  }

  override _flush(callback: TransformCallback): void {
    runGuarded(callback, () => this.opener.finish());
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.opener.release();
    callback(err);
  }
}

/**
 * Input: object bytes [cipherStart..cipherEndInclusive] from cipherRangeFor (never the header).
 * Output: exactly plaintext bytes [start..endInclusive]. Bad arguments throw synchronously
 * (RangeError/TypeError, or IntegrityError for a header that does not parse); failed
 * authentication, truncated or surplus input is an IntegrityError emitted on the stream.
 */
export function createDecryptStream(opts: DecryptOptions): Transform {
  assertKey(opts.key);
  assertRecordingId(opts.recordingId);
  assertPlaintextSize(opts.plaintextSize);
  const whole = opts.start === undefined && opts.endInclusive === undefined;
  const start = opts.start ?? 0;
  const endInclusive = opts.endInclusive ?? opts.plaintextSize - 1;
  if (!(whole && opts.plaintextSize === 0)) assertPlaintextRange(opts.plaintextSize, start, endInclusive);
  return new RangeDecryptStream(new SegmentOpener({ ...opts, start, endInclusive }));
}

/** Whole object in (header included), whole plaintext out. */
class ObjectDecryptStream extends Transform {
  private readonly opts: ObjectDecryptOptions;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private opener: SegmentOpener | null = null;
  private readonly forward: Emit = (plaintext) => { this.push(plaintext); };

  constructor(opts: ObjectDecryptOptions) {
    super();
    this.opts = opts;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    runGuarded(callback, () => {
      let rest = chunk;
      if (this.opener === null) {
        const n = Math.min(HEADER_BYTES - this.headerFill, rest.length);
        rest.copy(this.header, this.headerFill, 0, n);
        this.headerFill += n;
        rest = rest.subarray(n);
        if (this.headerFill < HEADER_BYTES) return;
        const { key, recordingId, plaintextSize } = this.opts;
        this.opener = new SegmentOpener({ key, recordingId, header: this.header, plaintextSize, start: 0, endInclusive: plaintextSize - 1 });
      }
      if (rest.length > 0) this.opener.write(rest, this.forward);
    });
  }

  override _flush(callback: TransformCallback): void {
    runGuarded(callback, () => {
      if (this.opener === null) throw new IntegrityError('Object header is truncated');
      this.opener.finish();
    });
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.opener?.release();
    callback(err);
  }
}

export function createObjectDecryptStream(opts: ObjectDecryptOptions): Transform {
  assertKey(opts.key);
  assertRecordingId(opts.recordingId);
  assertPlaintextSize(opts.plaintextSize);
  return new ObjectDecryptStream(opts);
}
