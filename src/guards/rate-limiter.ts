import { BoundedMap } from './bounded-map.js';

/**
 * Token buckets, one per key (an IP address, or tenant and subject of a principal): each holds up
 * to `burst` requests and refills at `perMinute` per minute. State lives in this process only, so
 * with N replicas behind a load balancer a client may reach up to N times the configured rate.
 */
export interface RateLimiterOptions {
  readonly perMinute: number;
  /** Requests a key may make at once after being idle; defaults to one minute's worth. */
  readonly burst?: number;
  /** Keys tracked at once; the least recently seen is forgotten first. */
  readonly maxKeys?: number;
}

export type LimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket { tokens: number; updated: number }

export class TokenBucketLimiter {
  private readonly buckets: BoundedMap<string, Bucket>;
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(opts: RateLimiterOptions) {
    if (!(opts.perMinute > 0)) throw new RangeError('perMinute must be positive');
    this.capacity = Math.max(1, opts.burst ?? opts.perMinute);
    this.perMs = opts.perMinute / 60_000;
    this.buckets = new BoundedMap(opts.maxKeys ?? 50_000);
  }

  get trackedKeys(): number {
    return this.buckets.size;
  }

  /** Spends one token of `key`'s bucket, or says how long until one is available. */
  take(key: string, now = Date.now()): LimitDecision {
    const bucket = this.buckets.getOrCreate(key, () => ({ tokens: this.capacity, updated: now }));
    const elapsed = Math.max(0, now - bucket.updated);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsed * this.perMs);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }
}
