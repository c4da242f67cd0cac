import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import { DependencyError } from '../errors.js';
import { appendBatch, appendEvents, prepareEvent, type PreparedEvent } from './chain.js';
import { DeniedLimiter, type SuppressedSummary } from './denied-limiter.js';
import type { AuditEventInput, AuditLog, AuditMetrics } from './types.js';

export interface ChainedAuditLogOptions {
  readonly metrics?: AuditMetrics;
  /** Denied-attempt events logged per source and minute (AUDIT_DENIED_PER_MINUTE). */
  readonly deniedPerMinute?: number;
  /** Denied-attempt events logged per minute from all sources together. */
  readonly deniedGlobalPerMinute?: number;
  /** How soon after the first dropped denied event its summary is written. */
  readonly summaryDelayMs?: number;
  /** Most events written in one transaction. */
  readonly maxBatch?: number;
  /** How long a batch waits for the chain lock before failing (fail closed, 503). */
  readonly lockTimeoutMs?: number;
}

interface Pending {
  readonly event: PreparedEvent;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const NOOP_METRICS: AuditMetrics = { written: () => undefined, failed: () => undefined, deniedDropped: () => undefined };

/**
 * The audit log over PostgreSQL. Appends to one global hash chain serialise on a database lock,
 * so within a process concurrent record() calls are group-committed: while one batch commits,
 * new events queue, and the next batch writes them all in one transaction (one lock, one
 * multi-row insert, one WAL flush). Each caller's promise settles with its batch's commit, so
 * "resolved" still means "durable". See docs/audit.md for the measurements behind this.
 */
export class ChainedAuditLog implements AuditLog {
  private readonly metrics: AuditMetrics;
  private readonly limiter: DeniedLimiter;
  private readonly maxBatch: number;
  private readonly lockTimeoutMs: number;
  private readonly summaryDelayMs: number;
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private summaryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly db: Db, opts: ChainedAuditLogOptions = {}) {
    this.metrics = opts.metrics ?? NOOP_METRICS;
    const perSource = opts.deniedPerMinute ?? 60;
    this.limiter = new DeniedLimiter({ perSourcePerMinute: perSource, globalPerMinute: opts.deniedGlobalPerMinute ?? perSource * 100 });
    this.maxBatch = opts.maxBatch ?? 500;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 5_000;
    this.summaryDelayMs = opts.summaryDelayMs ?? 60_000;
  }

  async record(input: AuditEventInput, trx?: Knex.Transaction): Promise<void> {
    const event = prepareEvent(input, new Date());
    if (this.closed) throw new DependencyError('audit', 'The audit log is shut down');
    if (trx) return this.recordInTransaction(trx, [event]);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.drainSoon();
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
    while (this.draining) await this.draining;
  }

  private async recordInTransaction(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      await appendEvents(trx, events);
    } catch (err) {
      for (let i = 0; i < events.length; i++) this.metrics.failed();
      throw new DependencyError('audit', 'The audit event could not be written', err);
    }
    this.metrics.written(events.length);
  }

  private drainSoon(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0) this.drainSoon();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await appendBatch(this.db, batch.map((p) => p.event), this.lockTimeoutMs);
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
