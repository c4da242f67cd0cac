import { Readable, Transform, type TransformCallback } from 'node:stream';
import { ContentLengthMismatchError } from './errors.js';

/**
 * Counts the bytes that pass and, when a length was declared, fails the stream as soon as the
 * body proves longer or, at its end, shorter. Failing before the end matters: the S3 driver only
 * commits (PutObject of the last part, CompleteMultipartUpload) after the source has ended.
 */
export class ByteCounter extends Transform {
  bytes = 0;
  private readonly expected: number | undefined;

  constructor(expected?: number) {
    super();
    this.expected = expected;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.bytes += buf.length;
    if (this.expected !== undefined && this.bytes > this.expected) {
      callback(new ContentLengthMismatchError(this.expected, `more than ${this.expected}`));
      return;
    }
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expected !== undefined && this.bytes !== this.expected) {
      callback(new ContentLengthMismatchError(this.expected, String(this.bytes)));
      return;
    }
    callback();
  }
}

/** Remembers the first error a caller's body stream emits, so it can be told apart from store faults. */
export function watchBody(body: Readable): { readonly error: unknown } {
  const box: { error: unknown } = { error: undefined };
  body.on('error', (err: unknown) => {
    box.error ??= err;
  });
  return box;
}

/**
 * A failed put is the caller's fault when its body failed (its own error, or it went away without
 * one) or when we refused it (a length mismatch); anything else is the store's.
 */
export function isBodyFailure(err: unknown, bodyError: unknown): boolean {
  if (err === bodyError || err instanceof ContentLengthMismatchError) return true;
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/**
 * Re-streams source, passing at most `limit` bytes (then stopping the source) and turning source
 * failures into `mapError(err)`. Destroying the result destroys the source, so an abandoned
 * download releases its connection.
 */
export function relay(source: Readable, limit: number | undefined, mapError: (err: unknown) => Error): Readable {
  async function* pump(): AsyncGenerator<Buffer> {
    let left = limit ?? Number.POSITIVE_INFINITY;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (chunk.length >= left) {
          yield chunk.subarray(0, left);
          return;
        }
        left -= chunk.length;
        yield chunk;
      }
    } catch (err) {
      throw mapError(err);
    }
  }
  const out = Readable.from(pump(), { objectMode: false });
  out.once('close', () => source.destroy());
  return out;
}
