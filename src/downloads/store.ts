import type { Db, Trx } from '../db/knex.js';
import { isRole, type Role } from '../auth/permissions.js';
import { lockXactOn } from '../db/locks.js';

/**
 * Which roles of a tenant may download recordings as files. No row means nobody: downloads are
 * off until an admin turns them on for named roles.
 */
interface GrantRow { tenant: string; role: string; granted_by: string; granted_at: Date }

export class DownloadGrantStore {
  constructor(private readonly db: Db) {}

  async roles(tenant: string, trx?: Trx): Promise<Role[]> {
    const rows = await (trx ?? this.db)<GrantRow>('download_grants').where({ tenant }).orderBy('role').select('role');
    return rows.map((r) => r.role).filter(isRole);
  }

  /**
   * Serialises changes of the tenant's grants until `trx` ends. Without it, two concurrent
   * replacements both delete, then both insert: a primary key clash or the union of both sets.
   */
  async lock(tenant: string, trx: Trx): Promise<void> {
    await lockXactOn(trx, 'downloads.grants', tenant);
  }

  /** Replaces the tenant's grants with `roles`; call `lock` first in the same transaction. */
  async replace(tenant: string, roles: readonly Role[], by: string, trx: Trx): Promise<void> {
    await trx<GrantRow>('download_grants').where({ tenant }).delete();
    if (roles.length > 0) await trx<GrantRow>('download_grants').insert(roles.map((role) => ({ tenant, role, granted_by: by })));
  }
}
