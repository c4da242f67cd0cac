import { TooManyRequestsError } from '../errors.js';
import { BoundedMap } from './bounded-map.js';
import { sourceKey } from './source.js';

/**
 * Authentication lockout per source address: `failures` failed authentications (bad or missing
 * bearer tokens, bad media links) within `windowSeconds` lock the source out for
 * `lockoutSeconds`. A locked source is refused before any token is parsed or verified, so
 * guessing costs nothing but the refusal. Successes do not reset the count: behind a NAT one
 * valid user must not be able to launder another host's guessing.
 */
export interface LockoutOptions {
  readonly failures: number;
  readonly windowSeconds: number;
  readonly lockoutSeconds: number;
  readonly maxKeys?: number;
  /** Called once when a source becomes locked out (audit, metrics). */
  readonly onLocked?: (ip: string, failures: number) => void;
  /** Called for every request refused because its source is locked out. */
  readonly onRefused?: (ip: string) => void;
}

interface SourceState {
  /** Times of the most recent failures, oldest first, at most `failures` of them. */
  readonly recent: number[];
  lockedUntil: number;
}

export class AuthLockout {
  private readonly sources: BoundedMap<string, SourceState>;

  constructor(private readonly opts: LockoutOptions) {
    if (!(opts.failures >= 1) || !(opts.windowSeconds > 0) || !(opts.lockoutSeconds > 0)) throw new RangeError('lockout settings must be positive');
    this.sources = new BoundedMap(opts.maxKeys ?? 20_000);
  }

  /** Seconds the source must still wait, or 0 when it is not locked out. */
  remainingSeconds(ip: string, now = Date.now()): number {
    const state = this.sources.get(sourceKey(ip));
    if (!state || state.lockedUntil <= now) return 0;
    return Math.ceil((state.lockedUntil - now) / 1000);
  }

  /** Throws 429 `locked_out` with Retry-After while the source is locked out. */
  assertAllowed(ip: string, now = Date.now()): void {
    const remaining = this.remainingSeconds(ip, now);
    if (remaining === 0) return;
    this.opts.onRefused?.(ip);
    throw new TooManyRequestsError('Too many failed authentication attempts from this address; try again later', remaining, 'locked_out');
  }

  /** Counts one failure; true when it is the one that locks the source out. */
  recordFailure(ip: string, now = Date.now()): boolean {
    const state = this.sources.getOrCreate(sourceKey(ip), () => ({ recent: [], lockedUntil: 0 }));
    if (state.lockedUntil > now) return false;
    const windowStart = now - this.opts.windowSeconds * 1000;
    while (state.recent.length > 0 && (state.recent[0] ?? 0) <= windowStart) state.recent.shift();
    state.recent.push(now);
    if (state.recent.length < this.opts.failures) return false;
    state.recent.length = 0;
    state.lockedUntil = now + this.opts.lockoutSeconds * 1000;
    this.opts.onLocked?.(ip, this.opts.failures);
    return true;
  }
}
