import type { Knex } from 'knex';
import { actorFields, auditActor } from './actor.js';
import { AUDIT_CHAIN_LOCK_KEY, appendEvents, prepareEvent } from './chain.js';
import { logOrigin } from './checkpoint.js';

/**
 * The registry of per-tenant logs (one per tenant, one `system` log for events without a tenant)
 * and the epoch that separates them from the single chain before them. See docs/audit.md,
 * "The epoch rule".
 */

export interface AuditLogRef {
  readonly logId: number;
  /** Null for the system log. */
  readonly tenant: string | null;
  /** `<namespace>/tenant/<tenant>` or `<namespace>/system`: the log's name in its checkpoints. */
  readonly origin: string;
}

interface LogRow { log_id: number; tenant: string | null; origin: string }

const toRef = (row: LogRow): AuditLogRef => ({ logId: row.log_id, tenant: row.tenant, origin: row.origin });

/**
 * Finds, and on a tenant's first event creates, the log of a tenant. A log keeps the origin it
 * was created with: the namespace names new logs only. Rows never change, so lookups are cached.
 */
export class AuditLogRegistry {
  readonly #cache = new Map<string, AuditLogRef>();

  constructor(private readonly db: Knex, readonly namespace: string) {
    // Fails at construction for a namespace that cannot name logs (AUDIT_NAMESPACE is validated too).
    logOrigin(namespace, 'system');
  }

  /**
   * The log of `tenant` (null: the system log), created if it does not exist yet. With `trx`,
   * everything runs on the caller's connection (a writer inside a transaction must not wait for a
   * second one from a pool its peers may hold), and a log created there is not cached: it exists
   * only if that transaction commits.
   */
  async resolve(tenant: string | null, trx?: Knex.Transaction): Promise<AuditLogRef> {
    const cached = this.#cache.get(tenant ?? '');
    if (cached) return cached;
    const db = trx ?? this.db;
    const found = await this.lookup(db, tenant);
    if (found) {
      this.#cache.set(tenant ?? '', found);
      return found;
    }
    const origin = logOrigin(this.namespace, tenant === null ? 'system' : { tenant });
    // DO NOTHING needs only INSERT: a concurrent creator's row is the one everybody uses.
    await db.raw('INSERT INTO audit_logs (tenant, origin) VALUES (?, ?) ON CONFLICT DO NOTHING', [tenant, origin]);
    const created = await this.lookup(db, tenant);
    if (!created) throw new Error(`the audit log of ${tenant ?? 'the system'} could not be created: origin ${origin} is taken`);
    if (!trx) this.#cache.set(tenant ?? '', created);
    return created;
  }

  /** The log of `tenant` if it has one; never creates. */
  async find(tenant: string | null): Promise<AuditLogRef | null> {
    return this.#cache.get(tenant ?? '') ?? this.lookup(this.db, tenant);
  }

  private async lookup(db: Knex, tenant: string | null): Promise<AuditLogRef | null> {
    const row = await db('audit_logs').whereRaw("coalesce(tenant, '') = ?", [tenant ?? '']).first<LogRow | undefined>('log_id', 'tenant', 'origin');
    return row ? toRef(row) : null;
  }
}

/** Every log, by log_id. */
export async function listLogs(db: Knex): Promise<AuditLogRef[]> {
  const rows = await db('audit_logs').orderBy('log_id').select<LogRow[]>('log_id', 'tenant', 'origin');
  return rows.map(toRef);
}

/** SQL condition for the event that closed the single chain. */
export const EPOCH_EVENT = "log_id IS NULL AND action = 'audit.anchored' AND details->>'trigger' = 'epoch'";

/** Seq of the event that closed the single chain, or null while it is open. */
export async function findEpoch(db: Knex): Promise<number | null> {
  const row = await db('audit_events').whereRaw(EPOCH_EVENT).first<{ seq: string } | undefined>(db.raw('seq::text AS seq'));
  return row ? Number(row.seq) : null;
}

/**
 * Closes the single chain with an `audit.anchored` event (details.trigger = "epoch"), once; later
 * calls return its seq (`created` false). Taken under the chain lock, so it is the chain's last event whichever
 * replica of whichever version appends concurrently; after it, the database refuses rows without
 * a log. Its signed anchor is written by the next anchoring (see checkpoints.ts).
 */
export async function closeEpoch(db: Knex): Promise<{ readonly seq: number; readonly created: boolean }> {
  const found = await findEpoch(db);
  if (found !== null) return { seq: found, created: false };
  return db.transaction(async (trx) => {
    await trx.raw(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
    const again = await findEpoch(trx);
    if (again !== null) return { seq: again, created: false };
    const [event] = await appendEvents(trx, [prepareEvent({
      tenant: null, ...actorFields(auditActor('system:audit-anchor')), action: 'audit.anchored', outcome: 'allowed',
      details: { trigger: 'epoch' },
    }, new Date())]);
    if (!event) throw new Error('closing the single chain appended no event');
    return { seq: event.seq, created: true };
  });
}
