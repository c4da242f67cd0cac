import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BadRequestError, PayloadTooLargeError } from '../errors.js';

/**
 * Counts and hashes the plaintext as it flows, and refuses to pass more than `maxBytes`. With
 * `hashed` false it only counts and limits: a later stage hashes (DTMF masking, ingest-stage.ts).
 */
export class MeteredBody extends Transform {
  bytes = 0;
  private readonly hash: Hash | null;

  constructor(private readonly maxBytes: number, private readonly onBytes?: (n: number) => void, highWaterMark?: number, hashed = true) {
    super({ highWaterMark });
    this.hash = hashed ? createHash('sha256') : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(new PayloadTooLargeError(`Recordings are limited to ${this.maxBytes} bytes`));
    this.hash?.update(chunk);
    this.onBytes?.(chunk.length);
    done(null, chunk);
  }

  digestHex(): string {
    if (!this.hash) throw new Error('This body was counted, not hashed');
    return this.hash.digest('hex');
  }
}

/**
 * The client's expected SHA-256 from `Content-Digest: sha-256=:<base64>:` (RFC 9530) or
 * `X-Checksum-Sha256: <hex>`; null when neither is sent. Other algorithms in Content-Digest are
 * ignored, as RFC 9530 allows.
 */
export function expectedSha256(contentDigest: string | undefined, checksumHeader: string | undefined): string | null {
  if (checksumHeader !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(checksumHeader.trim())) throw new BadRequestError('X-Checksum-Sha256 must be 64 hex digits', 'invalid_digest');
    return checksumHeader.trim().toLowerCase();
  }
  if (contentDigest === undefined) return null;
  const m = /(?:^|,)\s*sha-256\s*=\s*:([a-z0-9+/]+={0,2}):/i.exec(contentDigest);
  if (!m?.[1]) {
    if (/sha-256/i.test(contentDigest)) throw new BadRequestError('Content-Digest sha-256 value is malformed', 'invalid_digest');
    return null;
  }
  const bytes = Buffer.from(m[1], 'base64');
  if (bytes.length !== 32) throw new BadRequestError('Content-Digest sha-256 value must be 32 bytes', 'invalid_digest');
  return bytes.toString('hex');
}
