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

/** Tenants that have at least one live data key. */
export async function tenantsWithKeys(db: Db | Trx): Promise<string[]> {
  const rows = await db('recordings').distinct<{ tenant: string }[]>('tenant').whereNotNull('wrapped_key').whereNot({ status: S.deleted }).orderBy('tenant');
  return rows.map((r) => r.tenant);
}

/**
 * Rows whose data key is still wrapped under `keyRef`: recordings, and the sealed originals of
 * pii redactions (src/redaction), which rotation does not rewrap, so the master key version
 * stays until they are gone.
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
