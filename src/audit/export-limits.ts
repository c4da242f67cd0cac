import type { Db } from '../db/knex.js';
import { TooManyRequestsError } from '../errors.js';

/**
 * What keeps audit exports from starving the rest of the vault. An export holds a database
 * connection for as long as its client takes to read it, so exports read through a pool of
 * their own (AUDIT_EXPORT_POOL_MAX, built in src/deps.ts): however many stall, audit writes and
 * every other route keep the main pool. On top of that one principal may run only
 * AUDIT_EXPORT_MAX_CONCURRENT exports at once, and an export whose client reads nothing for
 * AUDIT_EXPORT_IDLE_TIMEOUT is cut off, which closes its cursor and returns the connection.
 */
export interface AuditExportDeps {
  /** The export pool: separate from the main one. */
  readonly db: Db;
  readonly slots: ExportSlots;
  readonly idleTimeoutMs: number;
}

/** Seconds a refused export is told to wait: long enough for a short export to finish. */
const RETRY_AFTER_SECONDS = 10;

/**
 * Concurrent exports per principal, counted in this process. The count protects this replica's
 * export pool, so it is deliberately not shared between replicas; an export that ends in any way
 * (finished, failed, client gone, cut off as idle) gives its slot back.
 */
export class ExportSlots {
  private readonly running = new Map<string, number>();

  constructor(readonly perPrincipal: number) {
    if (!Number.isInteger(perPrincipal) || perPrincipal < 1) throw new RangeError('perPrincipal must be a positive integer');
  }

  /** Takes a slot for `principal` and returns its release (idempotent), or throws 429. */
  acquire(principal: string): () => void {
    const held = this.running.get(principal) ?? 0;
    if (held >= this.perPrincipal) {
      throw new TooManyRequestsError(
        `At most ${this.perPrincipal} audit exports may run at once per principal; wait for one to finish`,
        RETRY_AFTER_SECONDS, 'too_many_exports',
      );
    }
    this.running.set(principal, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(principal) ?? 1) - 1;
      if (left > 0) this.running.set(principal, left);
      else this.running.delete(principal);
    };
  }

  /** Exports running now for `principal`. */
  held(principal: string): number {
    return this.running.get(principal) ?? 0;
  }
}

/** The export's reader took more than the idle timeout to take the next chunk. */
export class ExportIdleError extends Error {
  constructor(readonly idleMs: number) {
    super(`the client read nothing for ${Math.round(idleMs / 1000)} s; the export was cut off`);
    this.name = 'ExportIdleError';
  }
}

/**
 * Passes `source` through, calling `onIdle` when a chunk has waited `idleMs` for the consumer
 * to ask for the next one. Only the consumer's wait is timed: time spent fetching rows is the
 * database's, bounded by its own timeouts. A trickling reader that takes longer than `idleMs`
 * to drain one chunk (64 KiB) counts as idle too.
 */
export async function* pulledWithin<T>(source: AsyncIterable<T>, idleMs: number, onIdle: () => void): AsyncGenerator<T> {
  for await (const chunk of source) {
    const timer = setTimeout(onIdle, idleMs);
    try {
      yield chunk;
    } finally {
      clearTimeout(timer);
    }
  }
}
