import type { Knex } from 'knex';
import { DependencyError } from '../errors.js';
import { prepareEvent, type PreparedEvent } from './chain.js';
import { DeniedLimiter, type SuppressedSummary } from './denied-limiter.js';
import type { AuditEventInput, AuditLog, AuditMetrics } from './types.js';

export interface GroupCommitOptions {
  readonly metrics?: AuditMetrics;
  /** Denied-attempt events logged per source and minute (AUDIT_DENIED_PER_MINUTE). */
  readonly deniedPerMinute?: number;
  /** Denied-attempt events logged per minute from all sources together. */
  readonly deniedGlobalPerMinute?: number;
  /** How soon after the first dropped denied event its summary is written. */
  readonly summaryDelayMs?: number;
  /** Most events written in one transaction. */
  readonly maxBatch?: number;
  /** How long a batch waits for its log's lock before failing (fail closed, 503). */
  readonly lockTimeoutMs?: number;
}

interface Pending {
  readonly event: PreparedEvent;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Lane { queue: Pending[]; draining: Promise<void> | null }

const NOOP_METRICS: AuditMetrics = { written: () => undefined, failed: () => undefined, deniedDropped: () => undefined };

/**
 * Group commit over lanes that each serialise on a database lock (one lane per log). Within a
 * process, concurrent record() calls of one lane queue while its batch commits, and the next
 * batch writes them all in one transaction; lanes drain independently, so a slow lane never
 * holds up another. Each caller's promise settles with its batch's commit: "resolved" means
 * "durable". Denied attempts are rate-capped and summarised here for every writer.
 */
export abstract class GroupCommitAuditLog implements AuditLog {
  protected readonly metrics: AuditMetrics;
  protected readonly lockTimeoutMs: number;
  private readonly limiter: DeniedLimiter;
  private readonly maxBatch: number;
  private readonly summaryDelayMs: number;
  private readonly lanes = new Map<string, Lane>();
  private summaryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  protected constructor(opts: GroupCommitOptions) {
    this.metrics = opts.metrics ?? NOOP_METRICS;
    const perSource = opts.deniedPerMinute ?? 60;
    this.limiter = new DeniedLimiter({ perSourcePerMinute: perSource, globalPerMinute: opts.deniedGlobalPerMinute ?? perSource * 100 });
    this.maxBatch = opts.maxBatch ?? 500;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 5_000;
    this.summaryDelayMs = opts.summaryDelayMs ?? 60_000;
  }

  /** The lane (database lock) an event is appended under. */
  protected abstract laneOf(event: PreparedEvent): string;
  /** Appends one lane's batch in its own transaction; resolves after COMMIT. */
  protected abstract appendBatch(lane: string, events: readonly PreparedEvent[]): Promise<void>;
  /** Appends inside the caller's transaction. */
  protected abstract appendInTransaction(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<void>;

  async record(input: AuditEventInput, trx?: Knex.Transaction): Promise<void> {
    const event = prepareEvent(input, new Date());
    if (this.closed) throw new DependencyError('audit', 'The audit log is shut down');
    if (trx) return this.recordInTransaction(trx, [event]);
    const key = this.laneOf(event);
    return new Promise<void>((resolve, reject) => {
      const lane = this.lanes.get(key) ?? { queue: [], draining: null };
      this.lanes.set(key, lane);
      lane.queue.push({ event, resolve, reject });
      this.drainSoon(key, lane);
    });
  }

  async recordMany(inputs: readonly AuditEventInput[], trx: Knex.Transaction): Promise<void> {
    const at = new Date();
    const events = inputs.map((input) => prepareEvent(input, at));
    if (this.closed) throw new DependencyError('audit', 'The audit log is shut down');
    return this.recordInTransaction(trx, events);
  }

  async recordDenied(input: AuditEventInput, source: string): Promise<void> {
    try {
      if (!this.limiter.allow(source, input.tenant)) {
        this.metrics.deniedDropped();
        this.scheduleSummary();
        return;
      }
      await this.record(input);
    } catch {
      // record() has counted a write failure; anything else here is an invalid event.
    }
  }

  /** Writes one 'audit.denied_suppressed' event per tenant for what the cap dropped so far. */
  async flushSuppressed(): Promise<void> {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    const summaries = this.limiter.takeSummaries();
    await Promise.all(summaries.map((s) => this.record(summaryEvent(s)).catch(() => undefined)));
  }

  /** Writes pending summaries and waits for queued events; later record() calls reject. */
  async close(): Promise<void> {
    await this.flushSuppressed();
    this.closed = true;
    for (;;) {
      const draining = [...this.lanes.values()].flatMap((l) => (l.draining ? [l.draining] : []));
      if (draining.length === 0) return;
      await Promise.all(draining);
    }
  }

  private async recordInTransaction(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      await this.appendInTransaction(trx, events);
    } catch (err) {
      for (let i = 0; i < events.length; i++) this.metrics.failed();
      throw new DependencyError('audit', 'The audit event could not be written', err);
    }
    this.metrics.written(events.length);
  }

  private drainSoon(key: string, lane: Lane): void {
    if (lane.draining) return;
    lane.draining = this.drain(key, lane).finally(() => {
      lane.draining = null;
      if (lane.queue.length > 0) this.drainSoon(key, lane);
      else if (this.lanes.get(key) === lane) this.lanes.delete(key);
    });
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, this.maxBatch);
      try {
        await this.appendBatch(key, batch.map((p) => p.event));
      } catch (err) {
        for (let i = 0; i < batch.length; i++) this.metrics.failed();
        const failure = new DependencyError('audit', 'The audit event could not be written', err);
        for (const p of batch) p.reject(failure);
        continue;
      }
      this.metrics.written(batch.length);
      for (const p of batch) p.resolve();
    }
  }

  private scheduleSummary(): void {
    if (this.summaryTimer || this.closed) return;
    this.summaryTimer = setTimeout(() => { void this.flushSuppressed(); }, this.summaryDelayMs);
    this.summaryTimer.unref();
  }
}

function summaryEvent(s: SuppressedSummary): AuditEventInput {
  return {
    tenant: s.tenant, actorSub: 'system:audit', actorRole: null, action: 'audit.denied_suppressed', outcome: 'denied',
    details: {
      dropped: s.dropped, sources: s.sources, otherSourcesDropped: s.otherSourcesDropped,
      since: s.since.toISOString(), until: s.until.toISOString(),
    },
  };
}
