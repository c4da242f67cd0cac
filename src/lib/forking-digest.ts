import { createHash, type Hash } from 'node:crypto';

/**
 * SHA-256 and size of two byte streams that agree up to some point and may differ after it:
 * what a client sent and what is stored once masking rewrote part of it. While they agree one
 * hash serves both; at the first difference it is copied, and each goes on alone. A recording
 * nothing was masked in is hashed once.
 */
export class ForkingDigest {
  private shared: Hash | null = createHash('sha256');
  private receivedHash: Hash | null = null;
  private storedHash: Hash | null = null;
  private sharedHex: string | null = null;
  receivedBytes = 0;
  storedBytes = 0;

  /** Bytes that are both received and stored. */
  same(bytes: Buffer): void {
    this.receivedBytes += bytes.length;
    this.storedBytes += bytes.length;
    if (this.shared) this.shared.update(bytes);
    else { this.receivedHash?.update(bytes); this.storedHash?.update(bytes); }
  }

  /** Received bytes that are not stored as they are. */
  received(bytes: Buffer): void {
    this.fork();
    this.receivedBytes += bytes.length;
    this.receivedHash?.update(bytes);
  }

  /** Stored bytes that replace received ones. */
  stored(bytes: Buffer): void {
    this.fork();
    this.storedBytes += bytes.length;
    this.storedHash?.update(bytes);
  }

  /** Hex digests, once every byte has passed. */
  receivedHex(): string {
    return this.receivedHash ? this.receivedHash.digest('hex') : this.sharedDigest();
  }

  storedHex(): string {
    return this.storedHash ? this.storedHash.digest('hex') : this.sharedDigest();
  }

  private sharedDigest(): string {
    this.sharedHex ??= (this.shared as Hash).digest('hex');
    return this.sharedHex;
  }

  private fork(): void {
    if (!this.shared) return;
    this.storedHash = this.shared.copy();
    this.receivedHash = this.shared;
    this.shared = null;
  }
}
