import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import { appendBatch, appendEvents, type PreparedEvent } from './chain.js';
import { GroupCommitAuditLog, type GroupCommitOptions } from './group-commit.js';

export type ChainedAuditLogOptions = GroupCommitOptions;

/**
 * The writer of the single-chain epoch: every event appended to one global hash chain under one
 * database lock (docs/audit.md, "Writing: one chain, many replicas"). Once the epoch is closed
 * the database refuses its rows; the vault writes per-tenant logs with TenantAuditLog.
 */
export class ChainedAuditLog extends GroupCommitAuditLog {
  constructor(private readonly db: Db, opts: ChainedAuditLogOptions = {}) {
    super(opts);
  }

  protected laneOf(): string {
    return 'chain';
  }

  protected async appendBatch(_lane: string, events: readonly PreparedEvent[]): Promise<void> {
    await appendBatch(this.db, events, this.lockTimeoutMs);
  }

  protected async appendInTransaction(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<void> {
    await appendEvents(trx, events);
  }
}
