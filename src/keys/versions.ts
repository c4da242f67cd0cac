import type { Db, Trx } from '../db/knex.js';
import { lockXact } from '../db/locks.js';
import { DependencyError } from '../errors.js';

/**
 * Which local master key version wraps new data keys is a fact of the database (key_versions),
 * not of a process's memory: every replica reads it per upload, so a rotation reaches them all at
 * once, without a restart. A version moves active → inactive (rotate) → retiring → retired.
 *
 * The retire barrier: an upload checks, in its commit transaction, that the version it wrapped
 * under is neither retired nor retiring past its grace, holding a KEY SHARE lock on the version's
 * row until the commit ends. `keys retire` takes the row FOR UPDATE, counts the data keys still
 * under it and marks it retired in one transaction. So either the upload's row is committed first
 * (and counted: retire refuses) or the upload sees 'retired' and fails; a 201 whose data key
 * cannot be unwrapped once the version's file is gone cannot happen.
 */
export const KEY_VERSION_STATE = Object.freeze({
  active: 'active', inactive: 'inactive', retiring: 'retiring', retired: 'retired',
} as const);

export type KeyVersionState = (typeof KEY_VERSION_STATE)[keyof typeof KEY_VERSION_STATE];

const V = KEY_VERSION_STATE;

export interface KeyVersion {
  readonly keyRef: string;
  readonly state: KeyVersionState;
  readonly createdAt: Date;
  readonly retireAfter: Date | null;
  readonly retiredAt: Date | null;
}

interface KeyVersionRow {
  key_ref: string; state: KeyVersionState; created_at: Date; retire_after: Date | null; retired_at: Date | null;
}

function mapRow(row: KeyVersionRow): KeyVersion {
  return { keyRef: row.key_ref, state: row.state, createdAt: row.created_at, retireAfter: row.retire_after, retiredAt: row.retired_at };
}

export class KeyVersionStore {
  constructor(private readonly db: Db) {}

  /** The keyRef new data keys are wrapped under; null before any version was recorded. */
  async active(trx?: Trx): Promise<string | null> {
    const row = await (trx ?? this.db)('key_versions').select<{ key_ref: string }[]>('key_ref').where({ state: V.active }).first();
    return row?.key_ref ?? null;
  }

  async get(keyRef: string, trx?: Trx): Promise<KeyVersion | null> {
    const row = await (trx ?? this.db)<KeyVersionRow>('key_versions').where({ key_ref: keyRef }).first();
    return row ? mapRow(row) : null;
  }

  async list(): Promise<KeyVersion[]> {
    const rows = await this.db<KeyVersionRow>('key_versions').orderBy('created_at').orderBy('key_ref');
    return rows.map(mapRow);
  }

  /**
   * At boot: records `keyRef` (the newest version on disk) as active when no version is, i.e. on
   * first start or after an upgrade from when the newest file was the active one. Replicas racing
   * here all insert the same fact; the unique index on the active row keeps one.
   */
  async adoptActive(keyRef: string): Promise<string> {
    await this.db.raw(`
      INSERT INTO key_versions (key_ref, state)
      SELECT ?, '${V.active}' WHERE NOT EXISTS (SELECT 1 FROM key_versions WHERE state = '${V.active}')
      ON CONFLICT DO NOTHING`, [keyRef]);
    const active = await this.active();
    if (active === null) throw new DependencyError('database', 'No active master key version is recorded');
    return active;
  }

  /** Makes `keyRef` the active version; the previous one becomes inactive (it still decrypts). */
  async activate(keyRef: string, trx: Trx): Promise<string | null> {
    // Serialises changes of the active version.
    await lockXact(trx, 'keys.activate');
    const previous = await this.active(trx);
    await trx('key_versions').update({ state: V.inactive }).where({ state: V.active });
    await trx.raw(`
      INSERT INTO key_versions (key_ref, state) VALUES (?, '${V.active}')
      ON CONFLICT (key_ref) DO UPDATE SET state = '${V.active}', retiring_since = NULL, retire_after = NULL`, [keyRef]);
    return previous;
  }

  /**
   * Starts the grace period of an inactive (or unrecorded) version; the database's clock sets
   * retire_after, so the hosts' clocks do not matter. Returns the row as it is now.
   */
  async startRetiring(keyRef: string, graceMs: number): Promise<KeyVersion> {
    await this.db.raw(`
      INSERT INTO key_versions (key_ref, state, retiring_since, retire_after)
      VALUES (?, '${V.retiring}', now(), now() + make_interval(secs => ?))
      ON CONFLICT (key_ref) DO UPDATE SET state = '${V.retiring}', retiring_since = now(), retire_after = EXCLUDED.retire_after
      WHERE key_versions.state = '${V.inactive}'`, [keyRef, graceMs / 1000]);
    const row = await this.get(keyRef);
    if (!row) throw new DependencyError('database', `Master key ${keyRef} vanished from key_versions`);
    return row;
  }

  /** True once a retiring version's grace has passed, by the database's clock. */
  async gracePassed(keyRef: string, trx?: Trx): Promise<boolean> {
    const result = await (trx ?? this.db).raw<{ rows: Array<{ passed: boolean }> }>(
      `SELECT retire_after <= now() AS passed FROM key_versions WHERE key_ref = ? AND state = '${V.retiring}'`, [keyRef]);
    return result.rows[0]?.passed === true;
  }

  /** Locks the version row against every committing upload; for retire's final count. */
  async lockForRetire(keyRef: string, trx: Trx): Promise<KeyVersion | null> {
    const row = await trx<KeyVersionRow>('key_versions').where({ key_ref: keyRef }).forUpdate().first();
    return row ? mapRow(row) : null;
  }

  async markRetired(keyRef: string, trx: Trx): Promise<void> {
    await trx('key_versions').update({ state: V.retired, retired_at: trx.fn.now() }).where({ key_ref: keyRef });
  }

  /**
   * In an upload's commit transaction: refuses a data key wrapped under a version that is retired,
   * or retiring past its grace. Unrecorded keyRefs (KMS keys) are not managed here and pass.
   */
  async assertCommittable(keyRef: string, trx: Trx): Promise<void> {
    const result = await trx.raw<{ rows: Array<{ state: KeyVersionState; past: boolean }> }>(
      `SELECT state, coalesce(retire_after <= now(), false) AS past FROM key_versions WHERE key_ref = ? FOR KEY SHARE`, [keyRef]);
    const row = result.rows[0];
    if (!row || row.state === V.active || row.state === V.inactive || (row.state === V.retiring && !row.past)) return;
    throw new DependencyError('keys', 'The master key version this upload was encrypted under has been retired meanwhile; nothing was kept, retry the upload');
  }
}
