import type { Limit, Limits } from './limits.js';
import { retryAfterSeconds } from './limits.js';

/**
 * Requests per key (a source address, or tenant and subject of a principal): `perMinute` in any
 * one-minute window that starts with the key's first request, counted across all replicas
 * (src/guards/limits.ts). While the database is unreachable each replica counts on its own: a
 * limit that refused everyone would turn a database blip into a full outage, and one that
 * allowed everything would open the gates exactly when nobody can audit.
 */
export interface RateLimiterOptions {
  /** Distinguishes this limiter's keys from other limiters' (e.g. 'ip', 'principal'). */
  readonly name: string;
  readonly perMinute: number;
}

export type LimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  private readonly limit: Limit;

  constructor(limits: Limits, opts: RateLimiterOptions) {
    if (!(opts.perMinute > 0)) throw new RangeError('perMinute must be positive');
    this.limit = limits.limit({ name: `rate-${opts.name}`, points: opts.perMinute, windowSeconds: 60, whenStoreDown: 'local' });
  }

  /** Spends one request of `key`'s minute, or says how long until the minute is over. */
  async take(key: string): Promise<LimitDecision> {
    const usage = await this.limit.consume(key);
    return usage.allowed ? { allowed: true } : { allowed: false, retryAfterSeconds: retryAfterSeconds(usage) };
  }
}
