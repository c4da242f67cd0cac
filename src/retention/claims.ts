import { hostname } from 'node:os';
import { randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db, Trx } from '../db/knex.js';
import { CLAIMED_COLUMNS, mapClaimed, SYSTEM_RETENTION_ACTOR, type ClaimOwner, type ClaimedRecording, type ClaimedRow } from './types.js';

/**
 * Claiming recordings for deletion. A claim turns a row 'deleting' under a lease (lease_owner,
 * lease_until) in one statement over rows locked FOR UPDATE SKIP LOCKED, so concurrent workers
 * never claim the same row. The lock also re-evaluates `legal_hold = false` on the row as it is
 * now, and the hold endpoints refuse rows that are 'deleting': once claimed, no hold can appear.
 *
 * A claim is taken over by another worker when its lease has run out, or at once when its owner
 * is dead: every worker holds the advisory lock (LIVENESS_NAMESPACE, lease_key) for as long as it
 * runs, and a key nobody holds any more (the process was killed, its connection closed) marks an
 * abandoned claim. A takeover only speeds recovery up; exactly-once deletion rests on the
 * tombstone update being conditional on lease_owner (see deletion.ts).
 */
export const LIVENESS_NAMESPACE = 0x63765254;

const RETURNING = CLAIMED_COLUMNS.map((c) => `r.${c}`).join(', ');
const DEAD_OWNER = `(r2.lease_key IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${LIVENESS_NAMESPACE}::oid AND l.objid = r2.lease_key::oid))`;

/** A fresh owner identity: readable name plus a random 31-bit liveness key. */
export function newClaimOwner(label: string): ClaimOwner {
  const key = randomInt(1, 2 ** 31 - 1);
  return { owner: `${label}:${hostname()}:${process.pid}:${key}`, key };
}

export interface Liveness { release(): Promise<void> }

/**
 * Holds the owner's liveness lock on a connection of its own for as long as the caller works. A
 * transaction-scoped lock in an open transaction is used rather than a session lock so that the
 * pooled connection comes back clean when it is released.
 */
export async function holdLiveness(db: Db, owner: ClaimOwner, namespace = LIVENESS_NAMESPACE): Promise<Liveness> {
  if (owner.key === null) return { release: async () => undefined };
  const trx = await db.transaction();
  try {
    await trx.raw('SELECT pg_advisory_xact_lock(?::int4, ?::int4)', [namespace, owner.key]);
  } catch (err) {
    await trx.rollback().catch(() => undefined);
    throw err;
  }
  return { release: async () => { await trx.commit().catch(() => undefined); } };
}

async function claimWhere(db: Db | Trx, who: ClaimOwner, leaseSeconds: number, select: string, bindings: Knex.RawBinding[], set = ''): Promise<ClaimedRecording[]> {
  const result = await db.raw<{ rows: ClaimedRow[] }>(`
    UPDATE recordings r
    SET status = 'deleting', lease_owner = ?, lease_key = ?, lease_until = now() + make_interval(secs => ?)${set}
    FROM (${select}) c
    WHERE r.id = c.id
    RETURNING ${RETURNING}`, [who.owner, who.key, leaseSeconds, ...bindings]);
  return result.rows.map(mapClaimed);
}

/** Claims up to `limit` active, unheld recordings whose retainUntil is at or before `now`, oldest first. */
export function claimDue(db: Db, who: ClaimOwner, now: Date, limit: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
  return claimWhere(db, who, leaseSeconds, `
    SELECT id FROM recordings
    WHERE status <> 'deleted' AND legal_hold = false AND status = 'active' AND retain_until <= ?
    ORDER BY retain_until LIMIT ? FOR UPDATE SKIP LOCKED`, [now, limit],
  `, deletion_reason = 'retention', deleted_by = '${SYSTEM_RETENTION_ACTOR}'`);
}

/** Takes over claims of other owners whose lease ran out or whose owner is dead; keeps their kind and note. */
export function reclaimAbandoned(db: Db, who: ClaimOwner, limit: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
  return claimWhere(db, who, leaseSeconds, `
    SELECT id FROM recordings r2
    WHERE status = 'deleting' AND legal_hold = false AND lease_owner IS DISTINCT FROM ?
      AND (lease_until IS NULL OR lease_until < now() OR ${DEAD_OWNER})
    ORDER BY lease_until LIMIT ? FOR UPDATE SKIP LOCKED`, [who.owner, limit]);
}

/**
 * Claims specific active, unheld recordings of one tenant for erasure, in the caller's
 * transaction. Rows that are held, already deleting or gone are simply not returned.
 */
export async function claimForErasure(
  trx: Trx, who: ClaimOwner, tenant: string, ids: readonly string[], leaseSeconds: number, request: { note: string | null; by: string },
): Promise<ClaimedRecording[]> {
  if (ids.length === 0) return [];
  const result = await trx.raw<{ rows: ClaimedRow[] }>(`
    UPDATE recordings r
    SET status = 'deleting', lease_owner = ?, lease_key = ?, lease_until = now() + make_interval(secs => ?),
        deletion_reason = 'erasure', deletion_note = ?, deleted_by = ?
    WHERE r.tenant = ? AND r.id = ANY(?::uuid[]) AND r.status = 'active' AND r.legal_hold = false
    RETURNING ${RETURNING}`, [who.owner, who.key, leaseSeconds, request.note, request.by, tenant, [...ids]]);
  return result.rows.map(mapClaimed);
}

/** The ids among `ids` that are still claimed by `who` and not on hold: the recheck before anything is deleted. */
export async function stillClaimed(db: Db, who: ClaimOwner, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db('recordings').select<{ id: string }[]>('id')
    .whereRaw('id = ANY(?::uuid[])', [[...ids]]).andWhere({ status: 'deleting', lease_owner: who.owner, legal_hold: false });
  return new Set(rows.map((r) => r.id));
}

export interface DueRecording { readonly id: string; readonly tenant: string; readonly callId: string; readonly retainUntil: Date | null; readonly inProgress: boolean }

/** What a pass at `now` would delete, without claiming anything: due rows, then abandoned claims. */
export async function* listDue(db: Db, now: Date, pageSize: number): AsyncGenerator<DueRecording> {
  let after: { at: Date; id: string } | null = null;
  for (;;) {
    const query = db('recordings').select<{ id: string; tenant: string; call_id: string; retain_until: Date }[]>('id', 'tenant', 'call_id', 'retain_until')
      .whereRaw(`status <> 'deleted' AND legal_hold = false AND status = 'active' AND retain_until <= ?`, [now]);
    if (after) query.andWhereRaw('(retain_until, id) > (?, ?::uuid)', [after.at, after.id]);
    const rows = await query.orderBy([{ column: 'retain_until' }, { column: 'id' }]).limit(pageSize);
    for (const r of rows) yield { id: r.id, tenant: r.tenant, callId: r.call_id, retainUntil: r.retain_until, inProgress: false };
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) break;
    after = { at: last.retain_until, id: last.id };
  }
  const abandoned = await db.raw<{ rows: Array<{ id: string; tenant: string; call_id: string; retain_until: Date | null }> }>(`
    SELECT id, tenant, call_id, retain_until FROM recordings r2
    WHERE status = 'deleting' AND legal_hold = false AND (lease_until IS NULL OR lease_until < now() OR ${DEAD_OWNER})
    ORDER BY id`);
  for (const r of abandoned.rows) yield { id: r.id, tenant: r.tenant, callId: r.call_id, retainUntil: r.retain_until, inProgress: true };
}

/** Due recordings that a legal hold keeps. */
export async function countHeldDue(db: Db, now: Date): Promise<number> {
  const row = await db('recordings').count<{ count: number }[]>('* as count')
    .whereRaw(`status = 'active' AND legal_hold AND retain_until <= ?`, [now]).first();
  return Number(row?.count ?? 0);
}

/** The oldest retainUntil that has passed on a recording not yet deleted (held ones excluded). */
export async function oldestOverdue(db: Db, now: Date): Promise<Date | null> {
  const row = await db('recordings').min<{ min: Date | null }[]>('retain_until as min')
    .whereRaw(`status <> 'deleted' AND legal_hold = false AND retain_until <= ?`, [now]).first();
  return row?.min ?? null;
}
