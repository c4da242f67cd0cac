import type { Db, Trx } from '../db/knex.js';
import { lockXactOn } from '../db/locks.js';
import { isUuid } from '../lib/uuid.js';

/**
 * Saved searches, per user: every query takes the tenant and the owner, so one user never reads,
 * names over or deletes another's. The query is kept as the text parameters of
 * `GET /v1/recordings`, validated before it is stored.
 */
export type SavedQuery = Readonly<Record<string, string>>;

export interface SavedSearch {
  readonly id: string;
  readonly name: string;
  readonly query: SavedQuery;
  readonly createdAt: Date;
}

interface SavedSearchRow { id: string; tenant: string; owner_sub: string; name: string; query: SavedQuery; created_at: Date }

export interface SearchOwner { readonly tenant: string; readonly sub: string }

function mapRow(row: SavedSearchRow): SavedSearch {
  return { id: row.id, name: row.name, query: row.query, createdAt: row.created_at };
}

export class SavedSearchStore {
  constructor(private readonly db: Db) {}

  private q(owner: SearchOwner, trx?: Trx) {
    return (trx ?? this.db)<SavedSearchRow>('saved_searches').where({ tenant: owner.tenant, owner_sub: owner.sub });
  }

  async list(owner: SearchOwner): Promise<SavedSearch[]> {
    const rows = await this.q(owner).orderBy([{ column: 'name' }, { column: 'id' }]);
    return rows.map(mapRow);
  }

  /**
   * Serialises the owner's creations until `trx` ends, so that counting against the limit and
   * inserting are one step: concurrent saves cannot all see room for one more.
   */
  async lock(owner: SearchOwner, trx: Trx): Promise<void> {
    await lockXactOn(trx, 'saved-searches.owner', JSON.stringify([owner.tenant, owner.sub]));
  }

  async count(owner: SearchOwner, trx?: Trx): Promise<number> {
    const row = await this.q(owner, trx).count<{ n: string }[]>({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  /** Null when the owner already has a search of that name. */
  async insert(owner: SearchOwner, search: { id: string; name: string; query: SavedQuery }, trx?: Trx): Promise<SavedSearch | null> {
    const rows = await (trx ?? this.db)<SavedSearchRow>('saved_searches')
      .insert({ id: search.id, tenant: owner.tenant, owner_sub: owner.sub, name: search.name, query: search.query })
      .onConflict(['tenant', 'owner_sub', 'name']).ignore().returning('*');
    const row = rows[0];
    return row ? mapRow(row) : null;
  }

  /** Whether the owner had such a search. */
  async delete(owner: SearchOwner, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return (await this.q(owner).andWhere({ id }).delete()) > 0;
  }
}
