import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DependencyError } from '../errors.js';

/**
 * The one counting mechanism behind every request guard: fixed windows of `points` per key,
 * counted in PostgreSQL (table `rate_limits`, rate-limiter-flexible's layout) so that every
 * replica spends the same budget. A window starts with a key's first point and lasts
 * `windowSeconds`; a refusal says when it ends. Keys are hashed before they are stored, so that
 * any key fits the column (long subjects, NUL separators) and the table does not list addresses
 * and subjects in clear; a hash of an address is no secret, though, so only the service role
 * and the owner may read the table.
 *
 * When the database cannot be reached each limit does what its spec says:
 * - `local`: count in this process for as long as the outage lasts (the budget is then per
 *   replica, as it used to be), so that a database blip neither opens the gates nor refuses
 *   everyone;
 * - `refuse`: answer 503 `database_unavailable`, for a guard whose point is to bound access that
 *   cannot be granted or audited without the database anyway.
 * Either way the outage is logged (at most every 30 s).
 */
export interface LimitSpec {
  /** Distinguishes the limit's keys from every other limit's in the shared table. */
  readonly name: string;
  readonly points: number;
  readonly windowSeconds: number;
  /** Once a window's points are exceeded, the key stays refused this long from that moment. */
  readonly blockSeconds?: number;
  readonly whenStoreDown: 'local' | 'refuse';
}

export interface Usage {
  /** True when this point (or, for peek, the next one) is within the budget. */
  readonly allowed: boolean;
  /** Points spent in the current window, this one included. */
  readonly consumed: number;
  /** Milliseconds until the window (or the block) ends. */
  readonly resetMs: number;
}

export function retryAfterSeconds(usage: Usage): number {
  return Math.max(1, Math.ceil(usage.resetMs / 1000));
}

export const LIMITS_TABLE = 'rate_limits';
const WARN_EVERY_MS = 30_000;

export class Limits {
  private lastWarned = 0;
  private sweeping = false;

  /** `pool` reaches the database as the service role; `onStoreDown` hears of outages. */
  constructor(private readonly pool: pg.Pool, private readonly onStoreDown: (err: unknown) => void) {}

  limit(spec: LimitSpec): Limit {
    if (!(spec.points >= 0) || !(spec.windowSeconds > 0)) throw new RangeError(`limit ${spec.name}: points and windowSeconds must be positive`);
    const options = { keyPrefix: spec.name, points: spec.points, duration: spec.windowSeconds, blockDuration: spec.blockSeconds ?? 0 };
    // One limiter deletes long-expired rows (every 5 minutes) for all of them: they share the table.
    const shared = new RateLimiterPostgres({
      ...options, storeClient: this.pool, storeType: 'pool', tableName: LIMITS_TABLE, tableCreated: true, clearExpiredByTimeout: !this.sweeping,
    });
    this.sweeping = true;
    const local = spec.whenStoreDown === 'local' ? new RateLimiterMemory(options) : null;
    return new Limit(spec, shared, local, (err) => this.storeDown(err));
  }

  private storeDown(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarned < WARN_EVERY_MS) return;
    this.lastWarned = now;
    this.onStoreDown(err);
  }
}

export class Limit {
  constructor(
    readonly spec: LimitSpec,
    private readonly shared: RateLimiterAbstract,
    private readonly local: RateLimiterAbstract | null,
    private readonly storeDown: (err: unknown) => void,
  ) {}

  /** Spends `points` of `key`'s window; `allowed` is false once the window's budget is exceeded. */
  async consume(key: string, points = 1): Promise<Usage> {
    try {
      return this.usage(await this.run((rl) => rl.consume(hashKey(key), points)));
    } catch (err) {
      if (err instanceof RateLimiterRes) return { ...this.usage(err), allowed: false };
      throw err;
    }
  }

  /** The current window of `key` without spending anything; null when it has none. */
  async peek(key: string): Promise<Usage | null> {
    const res = await this.run((rl) => rl.get(hashKey(key)));
    return res ? this.usage(res) : null;
  }

  /** Drops `key`'s window, as if it had never spent anything. */
  async forget(key: string): Promise<void> {
    await this.run((rl) => rl.delete(hashKey(key)));
  }

  private usage(res: RateLimiterRes): Usage {
    return { allowed: res.consumedPoints <= this.spec.points, consumed: res.consumedPoints, resetMs: Math.max(0, res.msBeforeNext) };
  }

  private async run<T>(op: (rl: RateLimiterAbstract) => Promise<T>): Promise<T> {
    try {
      return await op(this.shared);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw err;
      this.storeDown(err);
      if (!this.local) throw new DependencyError('database', 'The request limits cannot be checked right now', err);
      return op(this.local);
    }
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
