import type { Db, Trx } from '../db/knex.js';
import { RECORDING_STATUS as S } from './status.js';

/**
 * Which of `ids` still name a recording that is active or being deleted, as `tenant/id`: the
 * objects derived from a recording (its peaks) may exist only while it does.
 */
export async function liveRecordings(db: Db | Trx, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db('recordings').select<{ tenant: string; id: string }[]>('tenant', 'id')
    .whereRaw('id = ANY(?::uuid[])', [[...ids]]).andWhereNot({ status: S.deleted });
  return new Set(rows.map((r) => `${r.tenant}/${r.id}`));
}
