import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import { ConcurrencyLimit } from '../lib/concurrency-limit.js';
import type { PreparedEvent } from './chain.js';
import { GroupCommitAuditLog, type GroupCommitOptions } from './group-commit.js';
import { appendBatchToLog, appendToLog, type Appended } from './log-append.js';
import { KnownHeadAppends } from './log-append-known.js';
import { LogHeads } from './log-heads.js';
import { closeEpoch, findEpoch, type AuditLogRegistry, type AuditLogRef } from './logs.js';

export interface TenantAuditLogOptions extends GroupCommitOptions {
  /**
   * Most appends taking the long way at once. Each holds a pooled connection while it waits for
   * its log's lock, so without a bound, busy tenants after a restart could take the whole pool.
   */
  readonly maxLongAppends?: number;
}

const SYSTEM_LANE = '\u0000system';

/**
 * The audit log as the vault writes it: one log per tenant and a system log, each with its own
 * lock and its own group-commit lane, so tenants never wait for each other (docs/audit.md,
 * "Per-tenant logs"). The first append of a process closes the single chain if no replica has.
 */
export class TenantAuditLog extends GroupCommitAuditLog {
  #epochClosed = false;
  readonly #heads = new LogHeads();
  readonly #known: KnownHeadAppends;
  readonly #longAppends: ConcurrencyLimit;
  readonly #listeners = new Set<(logId: number) => void>();

  constructor(private readonly db: Db, readonly logs: AuditLogRegistry, opts: TenantAuditLogOptions = {}) {
    super(opts);
    this.#known = new KnownHeadAppends(db);
    this.#longAppends = new ConcurrencyLimit(opts.maxLongAppends ?? 4);
  }

  /** Calls `listener` with the log_id after events of that log were written; returns the unsubscribe. */
  onAppended(listener: (logId: number) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  protected laneOf(event: PreparedEvent): string {
    return event.tenant ?? SYSTEM_LANE;
  }

  protected async appendBatch(lane: string, events: readonly PreparedEvent[]): Promise<void> {
    const log = await this.logOf(lane === SYSTEM_LANE ? null : lane);
    try {
      const appended = await this.appendAtKnownEnd(log, events)
        ?? await this.#longAppends.run(() => appendBatchToLog(this.db, log, events, this.lockTimeoutMs));
      if (appended.head) this.#heads.advance(log.logId, appended.head, appended.events);
    } catch (err) {
      this.#heads.forget(log.logId);
      this.recheckEpoch(err);
    }
    this.notify(log.logId);
  }

  /**
   * One round trip, shared with other logs' batches, when this process knows where the log ends
   * (it wrote there last); null when it does not, or when the log is locked or moved on since,
   * and its end must be read under its lock.
   */
  private async appendAtKnownEnd(log: AuditLogRef, events: readonly PreparedEvent[]): Promise<Appended | null> {
    const head = this.#heads.head(log.logId);
    if (!head) return null;
    const recordings = events.flatMap((e) => (e.recordingId === null ? [] : [e.recordingId]));
    const appended = await this.#known.append({ log, head, recordingPrev: this.#heads.recordingPrev(log.logId, recordings), events });
    // The hint was wrong, possibly ahead of the log (a rolled-back transaction's): the long way's head replaces it.
    if (!appended) this.#heads.forget(log.logId);
    return appended;
  }

  /**
   * Locks are taken in log_id order within one call, so two transactions that record their
   * events for several tenants through one recordMany() cannot deadlock.
   */
  protected async appendInTransaction(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<void> {
    const byTenant = new Map<string | null, PreparedEvent[]>();
    for (const e of events) {
      const group = byTenant.get(e.tenant);
      if (group) group.push(e);
      else byTenant.set(e.tenant, [e]);
    }
    const groups: { log: AuditLogRef; group: PreparedEvent[] }[] = [];
    for (const [tenant, group] of byTenant) groups.push({ log: await this.logOf(tenant, trx), group });
    groups.sort((a, b) => a.log.logId - b.log.logId);
    for (const { log, group } of groups) {
      const appended = await appendToLog(trx, log, group).catch(this.recheckEpoch);
      // Known once the caller's transaction ends. Resolution does not prove a COMMIT (knex also
      // resolves an explicit rollback), which is why a head is only ever a hint.
      const { head } = appended;
      if (head) trx.executionPromise.then(() => { this.#heads.advance(log.logId, head, appended.events); }, () => undefined);
    }
    for (const { log } of groups) this.notify(log.logId);
  }

  /**
   * The tenant's log, after making sure the single chain is closed. Inside a transaction both
   * run on its connection; an epoch closed there is remembered only once seen committed.
   */
  private async logOf(tenant: string | null, trx?: Knex.Transaction): Promise<AuditLogRef> {
    if (!this.#epochClosed) {
      if (!trx) {
        if ((await closeEpoch(this.db)).created) this.metrics.written(1);
        this.#epochClosed = true;
      } else if (await findEpoch(trx) !== null) {
        this.#epochClosed = true;
      } else if ((await closeEpoch(trx)).created) {
        this.metrics.written(1);
      }
    }
    return this.logs.resolve(tenant, trx);
  }

  /** After a failed append, the epoch is looked up again: one closed in a rolled-back transaction is not. */
  private readonly recheckEpoch = (err: unknown): never => {
    this.#epochClosed = false;
    throw err;
  };

  private notify(logId: number): void {
    for (const listener of this.#listeners) listener(logId);
  }
}
