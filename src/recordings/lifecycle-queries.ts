import type { Knex } from 'knex';
import type { Db, Trx } from '../db/knex.js';
import { livenessHeldSql, type ClaimOwner } from '../db/locks.js';
import { DELETION_REASON, RECORDING_STATUS as S } from './status.js';
import { destroyOriginalKeys } from './version-queries.js';

/**
 * The deletion lifecycle of the recordings table: claims, key destruction and tombstones, as
 * functions over a connection or transaction (the retention worker and erasure requests drive
 * them; see retention/deletion.ts for the order of the steps).
 *
 * A claim turns a row 'deleting' under a lease (lease_owner, lease_until) in one statement over
 * rows locked FOR UPDATE SKIP LOCKED, so concurrent workers never claim the same row. The lock
 * also re-evaluates `legal_hold = false` on the row as it is now, and the hold endpoints refuse
 * rows that are 'deleting': once claimed, no hold can appear.
 *
 * A claim is taken over by another worker when its lease has run out, or at once when its owner
 * is dead: every worker holds the liveness lock ('retention.liveness', lease_key) for as long as
 * it runs, and a key nobody holds any more marks an abandoned claim. A takeover only speeds
 * recovery up; exactly-once deletion rests on the tombstone update being conditional on
 * lease_owner. Updates name each row by tenant and id.
 */
export type DeletionKind = 'retention' | 'erasure';

/** A row a deletion worker (or an erasure request) has claimed: status 'deleting', leased to it. */
export interface ClaimedRecording {
  readonly id: string;
  readonly tenant: string;
  readonly callId: string;
  readonly objectKey: string | null;
  readonly sha256: string;
  readonly keyRef: string | null;
  readonly wrappedKey: Buffer | null;
  readonly policy: string | null;
  readonly retainUntil: Date | null;
  readonly kind: DeletionKind;
  readonly note: string | null;
  readonly requestedBy: string | null;
}

interface ClaimedRow {
  id: string; tenant: string; call_id: string; object_key: string | null; sha256: string; key_ref: string | null;
  wrapped_key: Buffer | null; policy: string | null; retain_until: Date | null; deletion_reason: string | null;
  deletion_note: string | null; deleted_by: string | null;
}

const CLAIMED_COLUMNS = [
  'id', 'tenant', 'call_id', 'object_key', 'sha256', 'key_ref', 'wrapped_key', 'policy', 'retain_until',
  'deletion_reason', 'deletion_note', 'deleted_by',
] as const;

function mapClaimed(row: ClaimedRow): ClaimedRecording {
  return {
    id: row.id, tenant: row.tenant, callId: row.call_id, objectKey: row.object_key, sha256: row.sha256, keyRef: row.key_ref,
    wrappedKey: row.wrapped_key, policy: row.policy, retainUntil: row.retain_until,
    kind: row.deletion_reason === DELETION_REASON.erasure ? 'erasure' : 'retention', note: row.deletion_note, requestedBy: row.deleted_by,
  };
}

export interface DueRecording { readonly id: string; readonly tenant: string; readonly callId: string; readonly retainUntil: Date | null; readonly inProgress: boolean }

const RETURNING = CLAIMED_COLUMNS.map((c) => `r.${c}`).join(', ');
// Spelled to match the partial indexes recordings_due_idx and recordings_held_due_idx.
const DUE = `status <> '${S.deleted}' AND legal_hold = false AND status = '${S.active}' AND retain_until <= ?`;
const DEAD_OWNER = `(r2.lease_key IS NOT NULL AND NOT ${livenessHeldSql('retention.liveness', 'r2.lease_key')})`;
const ABANDONED = `status = '${S.deleting}' AND legal_hold = false AND (lease_until IS NULL OR lease_until < now() OR ${DEAD_OWNER})`;
/** Rows of `rows` by (tenant, id): every update names the tenant of the row it changes. */
const TENANT_AND_ID = '(tenant, id) IN (SELECT * FROM unnest(?::text[], ?::uuid[]))';

function byTenantAndId(rows: ReadonlyArray<{ tenant: string; id: string }>): Knex.RawBinding[] {
  return [rows.map((r) => r.tenant), rows.map((r) => r.id)];
}

async function claimWhere(db: Db | Trx, who: ClaimOwner, leaseSeconds: number, select: string, bindings: Knex.RawBinding[], set = '', setBindings: Knex.RawBinding[] = []): Promise<ClaimedRecording[]> {
  const result = await db.raw<{ rows: ClaimedRow[] }>(`
    UPDATE recordings r
    SET status = '${S.deleting}', lease_owner = ?, lease_key = ?, lease_until = now() + make_interval(secs => ?)${set}
    FROM (${select}) c
    WHERE r.tenant = c.tenant AND r.id = c.id
    RETURNING ${RETURNING}`, [who.owner, who.key, leaseSeconds, ...setBindings, ...bindings]);
  return result.rows.map(mapClaimed);
}

/** Claims up to `limit` active, unheld recordings whose retainUntil is at or before `now`, oldest first. */
export function claimDue(db: Db | Trx, who: ClaimOwner, now: Date, limit: number, leaseSeconds: number, by: string): Promise<ClaimedRecording[]> {
  return claimWhere(db, who, leaseSeconds, `
    SELECT tenant, id FROM recordings
    WHERE ${DUE}
    ORDER BY retain_until LIMIT ? FOR UPDATE SKIP LOCKED`, [now, limit],
  ', deletion_reason = ?, deleted_by = ?', [DELETION_REASON.retention, by]);
}

/** Takes over claims of other owners whose lease ran out or whose owner is dead; keeps their kind and note. */
export function reclaimAbandoned(db: Db | Trx, who: ClaimOwner, limit: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
  return claimWhere(db, who, leaseSeconds, `
    SELECT tenant, id FROM recordings r2
    WHERE ${ABANDONED} AND lease_owner IS DISTINCT FROM ?
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
    SET status = '${S.deleting}', lease_owner = ?, lease_key = ?, lease_until = now() + make_interval(secs => ?),
        deletion_reason = ?, deletion_note = ?, deleted_by = ?
    WHERE r.tenant = ? AND r.id = ANY(?::uuid[]) AND r.status = '${S.active}' AND r.legal_hold = false
    RETURNING ${RETURNING}`, [who.owner, who.key, leaseSeconds, DELETION_REASON.erasure, request.note, request.by, tenant, [...ids]]);
  return result.rows.map(mapClaimed);
}

/** The ids among `rows` that are still claimed by `who` and not on hold: the recheck before anything is deleted. */
export async function stillClaimed(db: Db | Trx, who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const found = await db('recordings').select<{ id: string }[]>('id')
    .whereRaw(TENANT_AND_ID, byTenantAndId(rows)).andWhere({ status: S.deleting, lease_owner: who.owner, legal_hold: false });
  return new Set(found.map((r) => r.id));
}

/** What a pass at `now` would delete, without claiming anything: due rows, then abandoned claims. */
export async function* listDue(db: Db, now: Date, pageSize: number): AsyncGenerator<DueRecording> {
  let after: { at: Date; id: string } | null = null;
  for (;;) {
    const query = db('recordings').select<{ id: string; tenant: string; call_id: string; retain_until: Date }[]>('id', 'tenant', 'call_id', 'retain_until')
      .whereRaw(DUE, [now]);
    if (after) query.andWhereRaw('(retain_until, id) > (?, ?::uuid)', [after.at, after.id]);
    const rows = await query.orderBy([{ column: 'retain_until' }, { column: 'id' }]).limit(pageSize);
    for (const r of rows) yield { id: r.id, tenant: r.tenant, callId: r.call_id, retainUntil: r.retain_until, inProgress: false };
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) break;
    after = { at: last.retain_until, id: last.id };
  }
  const abandoned = await db.raw<{ rows: Array<{ id: string; tenant: string; call_id: string; retain_until: Date | null }> }>(`
    SELECT id, tenant, call_id, retain_until FROM recordings r2 WHERE ${ABANDONED} ORDER BY id`);
  for (const r of abandoned.rows) yield { id: r.id, tenant: r.tenant, callId: r.call_id, retainUntil: r.retain_until, inProgress: true };
}

/** Due recordings that a legal hold keeps. */
export async function countHeldDue(db: Db | Trx, now: Date): Promise<number> {
  const row = await db('recordings').count<{ count: number }[]>('* as count')
    .whereRaw(`status = '${S.active}' AND legal_hold AND retain_until <= ?`, [now]).first();
  return Number(row?.count ?? 0);
}

export interface DueGroup { readonly policy: string | null; readonly day: string; readonly held: boolean; readonly count: number }

/**
 * The dry run of one tenant at a future instant: active recordings of `tenant` (of `policy` when
 * given) whose retainUntil is at or before `until`, counted by policy, UTC day of retainUntil and
 * hold. Unheld groups are what a pass at `until` would delete (the DUE rows); held ones it keeps.
 */
export async function dueGroups(db: Db | Trx, tenant: string, until: Date, policy?: string): Promise<DueGroup[]> {
  const q = db('recordings')
    .select<Array<{ policy: string | null; day: string; legal_hold: boolean; count: string }>>(
      'policy', db.raw(`to_char(retain_until AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`), 'legal_hold', db.raw('count(*) AS count'))
    .where({ tenant, status: S.active }).andWhere('retain_until', '<=', until);
  if (policy !== undefined) q.andWhere({ policy });
  const rows = await q.groupBy('policy', 'day', 'legal_hold').orderBy([{ column: 'day' }, { column: 'policy' }]);
  return rows.map((r) => ({ policy: r.policy, day: r.day, held: r.legal_hold, count: Number(r.count) }));
}

/** The oldest retainUntil that has passed on a recording not yet deleted (held ones excluded). */
export async function oldestOverdue(db: Db | Trx, now: Date): Promise<Date | null> {
  const row = await db('recordings').min<{ min: Date | null }[]>('retain_until as min')
    .whereRaw(`status <> '${S.deleted}' AND legal_hold = false AND retain_until <= ?`, [now]).first();
  return row?.min ?? null;
}

/** Crypto-shreds claimed rows still leased to `who`: their wrapped data keys become NULL. */
export async function destroyKeys(db: Db | Trx, who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>): Promise<void> {
  if (rows.length === 0) return;
  await db('recordings').update({ wrapped_key: null, crypto_header: null })
    .whereRaw(TENANT_AND_ID, byTenantAndId(rows)).andWhere({ status: S.deleting, lease_owner: who.owner });
}

/**
 * Turns claimed rows still leased to `who` into tombstones, which keep id, tenant, callId, sha256,
 * size, type, deletedAt and why; nothing else, and ends their links. Returns the ids it changed.
 */
export async function tombstone(trx: Trx, who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>, revokedBy: string): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const updated = await trx('recordings')
    .update({
      status: S.deleted, deleted_at: trx.fn.now(), object_key: null, segment_size: null, crypto_header: null, wrapped_key: null,
      key_ref: null, policy: null, retain_until: null, started_at: null, duration_seconds: null, direction: null,
      from_number: null, to_number: null, from_hash: null, to_hash: null, agent_id: null, tags: [], uploaded_by: null,
      legal_hold: false, legal_hold_reason: null, legal_hold_case_id: null, legal_hold_by: null, legal_hold_at: null,
      lease_owner: null, lease_until: null, lease_key: null,
    })
    .whereRaw(TENANT_AND_ID, byTenantAndId(rows)).andWhere({ status: S.deleting, lease_owner: who.owner })
    .returning<{ id: string }[]>('id');
  const done = new Set(updated.map((u) => u.id));
  if (done.size === 0) return done;
  await destroyOriginalKeys(trx, [...done]);
  // A link to a deleted recording must stop working even if a reader somehow skipped the status check.
  await trx('links').whereRaw('recording_id = ANY(?::uuid[])', [[...done]])
    .update({
      revoked_at: trx.raw('coalesce(revoked_at, now())'), revoked_by: trx.raw('coalesce(revoked_by, ?)', [revokedBy]),
      expires_at: trx.raw('least(expires_at, now())'),
    });
  return done;
}
