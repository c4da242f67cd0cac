import type { Db, Trx } from '../db/knex.js';
import { RECORDING_STATUS as S } from './status.js';

/**
 * Wrapped data keys on the recordings table, for rotation (rewrap) and retirement of master keys.
 * Tombstones carry no key and are never touched.
 */
export interface WrappedKeyRow { readonly id: string; readonly wrappedKey: Buffer; readonly keyRef: string }

/** The next page (by id, after `after`) of the tenant's data keys not wrapped under `keyRef`. */
export async function keysNotUnder(db: Db | Trx, tenant: string, keyRef: string, after: string, limit: number): Promise<WrappedKeyRow[]> {
  const rows = await db('recordings').select<Array<{ id: string; wrapped_key: Buffer; key_ref: string }>>('id', 'wrapped_key', 'key_ref')
    .where({ tenant }).whereNot({ status: S.deleted }).whereNotNull('wrapped_key').whereNotNull('key_ref')
    .andWhere('key_ref', '<>', keyRef).andWhere('id', '>', after).orderBy('id').limit(limit);
  return rows.map((r) => ({ id: r.id, wrappedKey: r.wrapped_key, keyRef: r.key_ref }));
}

/**
 * Replaces one recording's wrapped key, compare-and-set on the wrapped key read before, so a key
 * destroyed meanwhile by an erasure is never brought back. False when nothing matched.
 */
export async function replaceWrappedKey(db: Db | Trx, tenant: string, id: string, expected: Buffer, next: { wrapped: Buffer; keyRef: string }): Promise<boolean> {
  const changed = await db('recordings').update({ wrapped_key: next.wrapped, key_ref: next.keyRef }).where({ tenant, id, wrapped_key: expected });
  return changed > 0;
}

/**
 * The next page (by redaction id) of the tenant's sealed originals (pii redactions that keep the
 * original, src/redaction) whose data key is not wrapped under `keyRef`. Their data key is bound
 * to the recording, like the recording's own: `id` is the redaction, `recordingId` the context.
 */
export async function sealedKeysNotUnder(db: Db | Trx, tenant: string, keyRef: string, after: string, limit: number): Promise<SealedKeyRow[]> {
  const rows = await db('redaction_originals')
    .select<Array<{ redaction_id: string; recording_id: string; wrapped_key: Buffer; key_ref: string }>>('redaction_id', 'recording_id', 'wrapped_key', 'key_ref')
    .where({ tenant }).whereNotNull('wrapped_key').whereNotNull('key_ref')
    .andWhere('key_ref', '<>', keyRef).andWhere('redaction_id', '>', after).orderBy('redaction_id').limit(limit);
  return rows.map((r) => ({ id: r.redaction_id, recordingId: r.recording_id, wrappedKey: r.wrapped_key, keyRef: r.key_ref }));
}

export interface SealedKeyRow extends WrappedKeyRow { readonly recordingId: string }

/** replaceWrappedKey for a sealed original: a key shredded meanwhile (its recording deleted) stays shredded. */
export async function replaceSealedWrappedKey(db: Db | Trx, tenant: string, redactionId: string, expected: Buffer, next: { wrapped: Buffer; keyRef: string }): Promise<boolean> {
  const changed = await db('redaction_originals').update({ wrapped_key: next.wrapped, key_ref: next.keyRef })
    .where({ tenant, redaction_id: redactionId, wrapped_key: expected });
  return changed > 0;
}

/** Tenants that have at least one live data key, a recording's or a sealed original's. */
export async function tenantsWithKeys(db: Db | Trx): Promise<string[]> {
  const rows = await db.raw<{ rows: { tenant: string }[] }>(`SELECT tenant FROM recordings WHERE wrapped_key IS NOT NULL AND status <> ?
    UNION SELECT tenant FROM redaction_originals WHERE wrapped_key IS NOT NULL ORDER BY tenant`, [S.deleted]);
  return rows.rows.map((r) => r.tenant);
}

/**
 * Rows whose data key is still wrapped under `keyRef`: recordings, and the sealed originals of
 * pii redactions (src/redaction). Rewrap moves both; until it has, the master key version stays.
 */
export async function countUsing(db: Db | Trx, keyRef: string): Promise<number> {
  const row = await db('recordings').count<{ count: number }[]>('* as count').where({ key_ref: keyRef }).whereNotNull('wrapped_key').first();
  const sealed = await db('redaction_originals').count<{ count: number }[]>('* as count').where({ key_ref: keyRef }).whereNotNull('wrapped_key').first();
  return Number(row?.count ?? 0) + Number(sealed?.count ?? 0);
}

/** How many live data keys each keyRef wraps, by keyRef. */
export async function countByKeyRef(db: Db | Trx): Promise<Array<{ keyRef: string; count: number }>> {
  const rows = await db('recordings').select('key_ref').count<{ key_ref: string; count: number }[]>('* as count')
    .whereNotNull('wrapped_key').groupBy('key_ref').orderBy('key_ref');
  return rows.map((r) => ({ keyRef: r.key_ref, count: Number(r.count) }));
}
