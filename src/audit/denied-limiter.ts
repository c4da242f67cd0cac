/**
 * Caps how many denied attempts per source reach the audit log, so that a flood of bad tokens
 * or links cannot fill the disk, while keeping an exact count of what was dropped. Token
 * buckets: each source may log `perSourcePerMinute` events per minute (bursting up to that
 * many), and all sources together `globalPerMinute`, which bounds a flood from many addresses.
 */

interface Bucket { tokens: number; updated: number }

export interface DeniedLimiterOptions {
  readonly perSourcePerMinute: number;
  readonly globalPerMinute: number;
  /** Sources tracked at once; beyond it new sources share one bucket. */
  readonly maxSources?: number;
  /** Sources named in a summary; the rest are counted together. */
  readonly maxNamedSources?: number;
}

export interface SuppressedSummary {
  readonly tenant: string | null;
  readonly dropped: number;
  readonly sources: Record<string, number>;
  readonly otherSourcesDropped: number;
  readonly since: Date;
  readonly until: Date;
}

interface Tally { dropped: number; sources: Map<string, number>; other: number }

const SHARED_SOURCE = '*';

export class DeniedLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly global: Bucket;
  private readonly tallies = new Map<string | null, Tally>();
  private windowStart: number | null = null;
  private lastPrune = 0;
  private readonly maxSources: number;
  private readonly maxNamed: number;

  constructor(private readonly opts: DeniedLimiterOptions) {
    if (!(opts.perSourcePerMinute > 0) || !(opts.globalPerMinute > 0)) throw new RangeError('denied-attempt rates must be positive');
    this.maxSources = opts.maxSources ?? 10_000;
    this.maxNamed = opts.maxNamedSources ?? 20;
    this.global = { tokens: opts.globalPerMinute, updated: Date.now() };
  }

  /** True when the event may be logged; false when it was dropped (and tallied). */
  allow(source: string, tenant: string | null, now = Date.now()): boolean {
    const bucket = this.bucketFor(source, now);
    refill(bucket, this.opts.perSourcePerMinute, now);
    refill(this.global, this.opts.globalPerMinute, now);
    if (bucket.tokens >= 1 && this.global.tokens >= 1) {
      bucket.tokens -= 1;
      this.global.tokens -= 1;
      return true;
    }
    this.tally(source, tenant, now);
    return false;
  }

  /** Sources with a bucket right now (bounded by maxSources). */
  get trackedSources(): number { return this.buckets.size; }

  /** What was dropped since the last call, one summary per tenant; resets the tallies. */
  takeSummaries(now = Date.now()): SuppressedSummary[] {
    if (this.windowStart === null) return [];
    const since = new Date(this.windowStart);
    const until = new Date(now);
    const out = [...this.tallies].map(([tenant, t]) => ({
      tenant, dropped: t.dropped, sources: Object.fromEntries(t.sources), otherSourcesDropped: t.other, since, until,
    }));
    this.tallies.clear();
    this.windowStart = null;
    return out;
  }

  private bucketFor(source: string, now: number): Bucket {
    const found = this.buckets.get(source);
    if (found) return found;
    if (this.buckets.size >= this.maxSources) this.prune(now);
    const key = this.buckets.size >= this.maxSources ? SHARED_SOURCE : source;
    const bucket = this.buckets.get(key) ?? { tokens: this.opts.perSourcePerMinute, updated: now };
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets sources whose bucket has refilled: they would start full anyway. At most once a second. */
  private prune(now: number): void {
    if (now - this.lastPrune < 1_000) return;
    this.lastPrune = now;
    for (const [key, bucket] of this.buckets) {
      refill(bucket, this.opts.perSourcePerMinute, now);
      if (bucket.tokens >= this.opts.perSourcePerMinute) this.buckets.delete(key);
    }
  }

  private tally(source: string, tenant: string | null, now: number): void {
    this.windowStart ??= now;
    let t = this.tallies.get(tenant);
    if (!t) {
      t = { dropped: 0, sources: new Map(), other: 0 };
      this.tallies.set(tenant, t);
    }
    t.dropped += 1;
    const named = t.sources.get(source);
    if (named !== undefined) t.sources.set(source, named + 1);
    else if (t.sources.size < this.maxNamed) t.sources.set(source, 1);
    else t.other += 1;
  }
}

function refill(bucket: Bucket, perMinute: number, now: number): void {
  const elapsed = Math.max(0, now - bucket.updated);
  bucket.tokens = Math.min(perMinute, bucket.tokens + (elapsed * perMinute) / 60_000);
  bucket.updated = now;
}
