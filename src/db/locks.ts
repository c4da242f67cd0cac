import { hostname } from 'node:os';
import { randomInt } from 'node:crypto';
import type { Db } from './knex.js';

/**
 * Every PostgreSQL advisory lock the vault takes, by name. The numbers are fixed forever: replicas
 * of different versions coordinate through them during a rolling deploy, so a key is never
 * renumbered or reused. Each is four ASCII letters read as an int4 ('cvRT', ...).
 */
export const ADVISORY_LOCKS = Object.freeze({
  /** Namespace of retention workers' liveness locks (key: the worker's lease_key). */
  'retention.liveness': 0x63765254,
  /** Namespace of uploading processes' liveness locks (key: uploads_in_progress.owner_key). */
  'uploads.liveness': 0x63765550,
  /** Serialises changes of the active local master key version. */
  'keys.activate': 0x63764b56,
  /** Namespace of the per-tenant audit logs' append locks (key: the log_id). */
  'audit.log': 0x63764c47,
  /** Namespace of the locks that serialise the checkpoint signers of one audit log (key: the log_id). */
  'audit.checkpoint': 0x63764350,
  /** Namespace of per-tenant locks serialising changes of download grants (key: hashtext(tenant)). */
  'downloads.grants': 0x63764447,
  /** Namespace of per-owner locks serialising creation of saved searches (key: hashtext of [tenant, sub] as JSON). */
  'saved-searches.owner': 0x63765353,
} as const);

export type AdvisoryLockName = keyof typeof ADVISORY_LOCKS;

export function advisoryLockKey(name: AdvisoryLockName): number {
  return ADVISORY_LOCKS[name];
}

/**
 * Who owns leased work (a deletion claim, an upload registration): a name for people, and the
 * key of the liveness lock that proves the owner is alive.
 */
export interface ClaimOwner {
  readonly owner: string;
  /** Null for claims that only a lease protects (erasure requests). */
  readonly key: number | null;
}

/** A fresh owner identity: readable name plus a random 31-bit liveness key. */
export function newClaimOwner(label: string): ClaimOwner {
  const key = randomInt(1, 2 ** 31 - 1);
  return { owner: `${label}:${hostname()}:${process.pid}:${key}`, key };
}

export interface Liveness { release(): Promise<void> }

/**
 * Holds the owner's liveness lock (namespace, owner.key) on a connection of its own for as long
 * as the caller works. A transaction-scoped lock in an open transaction is used rather than a
 * session lock so that the pooled connection comes back clean when it is released; a process
 * that dies releases it with its connection.
 */
export async function holdLiveness(db: Db, owner: ClaimOwner, namespace: AdvisoryLockName): Promise<Liveness> {
  if (owner.key === null) return { release: async () => undefined };
  const trx = await db.transaction();
  try {
    await trx.raw('SELECT pg_advisory_xact_lock(?::int4, ?::int4)', [advisoryLockKey(namespace), owner.key]);
  } catch (err) {
    await trx.rollback().catch(() => undefined);
    throw err;
  }
  return { release: async () => { await trx.commit().catch(() => undefined); } };
}

/** SQL: some session holds the liveness lock (namespace, `key`), `key` being an SQL expression. */
export function livenessHeldSql(namespace: AdvisoryLockName, key: string): string {
  return `EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${advisoryLockKey(namespace)}::oid AND l.objid = (${key})::oid)`;
}

/** Takes a transaction-scoped advisory lock on a single named key. */
export async function lockXact(trx: Pick<Db, 'raw'>, name: AdvisoryLockName): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(?::int4)', [advisoryLockKey(name)]);
}

/**
 * Takes a transaction-scoped advisory lock on (namespace, hashtext(key)). Two keys that hash alike
 * only share a lock, which costs some waiting and never correctness.
 */
export async function lockXactOn(trx: Pick<Db, 'raw'>, namespace: AdvisoryLockName, key: string): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(?::int4, hashtext(?))', [advisoryLockKey(namespace), key]);
}
