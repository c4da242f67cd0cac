import { TooManyRequestsError } from '../errors.js';
import { retryAfterSeconds, type Limit, type Limits } from './limits.js';
import { sourceKey } from './source.js';

/**
 * Authentication lockout per source address: `failures` failed authentications (bad or missing
 * bearer tokens, bad media links) within `windowSeconds` lock the source out for
 * `lockoutSeconds`, on every replica (the counts live in the database, src/guards/limits.ts). A
 * locked source is refused before any token is parsed or verified, so guessing costs nothing
 * but the refusal. Successes do not reset the count: behind a NAT one valid user must not be
 * able to launder another host's guessing. While the database is unreachable each replica
 * counts and locks on its own, rather than locking everybody out or nobody.
 */
export interface LockoutOptions {
  readonly failures: number;
  readonly windowSeconds: number;
  readonly lockoutSeconds: number;
  /** Called once, on the replica that counted the locking failure (audit, metrics). */
  readonly onLocked?: (ip: string, failures: number) => Promise<void> | void;
  /** Called for every request refused because its source is locked out. */
  readonly onRefused?: (ip: string) => void;
}

export class AuthLockout {
  private readonly limit: Limit;

  constructor(limits: Limits, private readonly opts: LockoutOptions) {
    if (!(opts.failures >= 1) || !(opts.windowSeconds > 0) || !(opts.lockoutSeconds > 0)) throw new RangeError('lockout settings must be positive');
    // The failure that exceeds failures - 1 is the locking one: the store then blocks the key.
    this.limit = limits.limit({
      name: 'lockout', points: opts.failures - 1, windowSeconds: opts.windowSeconds, blockSeconds: opts.lockoutSeconds, whenStoreDown: 'local',
    });
  }

  /** Seconds the source must still wait, or 0 when it is not locked out. */
  async remainingSeconds(ip: string): Promise<number> {
    const usage = await this.limit.peek(sourceKey(ip));
    return !usage || usage.allowed || usage.resetMs <= 0 ? 0 : retryAfterSeconds(usage);
  }

  /** Throws 429 `locked_out` with Retry-After while the source is locked out. */
  async assertAllowed(ip: string): Promise<void> {
    const remaining = await this.remainingSeconds(ip);
    if (remaining === 0) return;
    this.opts.onRefused?.(ip);
    throw new TooManyRequestsError('Too many failed authentication attempts from this address; try again later', remaining, 'locked_out');
  }

  /** Counts one failure; true when it is the one that locks the source out. */
  async recordFailure(ip: string): Promise<boolean> {
    const usage = await this.limit.consume(sourceKey(ip));
    if (usage.allowed || usage.consumed !== this.opts.failures) return false;
    await this.opts.onLocked?.(ip, this.opts.failures);
    return true;
  }
}
