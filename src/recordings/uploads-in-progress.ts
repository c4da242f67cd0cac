import type { Knex } from 'knex';
import type { Db, Trx } from '../db/knex.js';
import { DependencyError } from '../errors.js';
import { holdLiveness, livenessHeldSql, newClaimOwner, type ClaimOwner, type Liveness } from '../db/locks.js';

/**
 * Uploads between the start of their body and their commit or abort, registered in PostgreSQL so
 * that the orphan sweep of any replica can tell an object still being written or committed from
 * one nobody will ever commit. A registration is live while both hold:
 *   - its lease (lease_until), which the uploading process renews while it works, has not run
 *     out: a process that stalls or loses the database stops renewing;
 *   - its process still holds its liveness lock (an advisory lock held like retention workers'
 *     (src/db/locks.ts), key owner_key): a process that was killed released it with its connection,
 *     so its uploads are orphans at once rather than when their leases run out.
 *
 * The commit removes the registration in its own transaction and fails when it is no longer
 * there or no longer live: the sweep may then have deleted the object, and a row must never
 * point at an object that may be gone.
 */
export const UPLOAD_LEASE_MS = 120_000;

/**
 * A lease registered or renewed this recently has nearly all of its time left, so renewing it
 * right before the commit would only re-check the liveness lock; the commit's finish() checks
 * that lock anyway, and the ingest service renews and retries once when finish() says no.
 */
const FRESH_MS = 2_000;

/** How long a confirmed liveness lock is trusted before register() asks the database again. */
const LIVENESS_RECHECK_MS = 1_000;

const LIVE = `lease_until > now() AND ${livenessHeldSql('uploads.liveness', 'uploads_in_progress.owner_key')}`;

export interface UploadLease {
  readonly objectKey: string;
  /** Stops renewing; the registration itself goes with the commit or with release(). */
  stop(): void;
  /** True while the lease was registered or renewed less than a couple of seconds ago. */
  fresh(): boolean;
}

export class UploadRegistry {
  private readonly who: ClaimOwner = newClaimOwner('upload');
  private liveness: Promise<Liveness> | undefined;
  private ensuring: Promise<void> | undefined;
  private livenessConfirmedAt = 0;

  constructor(private readonly db: Db, private readonly leaseMs = UPLOAD_LEASE_MS) {}

  async register(objectKey: string, tenant: string, recordingId: string): Promise<UploadLease> {
    try {
      // A registration made while the lock was lost is not live: its commit's finish() refuses it.
      if (Date.now() - this.livenessConfirmedAt >= LIVENESS_RECHECK_MS) await this.ensureLiveness();
      await this.db('uploads_in_progress').insert({
        object_key: objectKey, tenant, recording_id: recordingId, owner: this.who.owner, owner_key: this.who.key, lease_until: this.leaseEnd(),
      });
    } catch (err) {
      throw new DependencyError('database', 'The upload could not be registered; nothing was stored', err);
    }
    let stopped = false;
    let renewedAt = Date.now();
    const timer = setInterval(() => {
      this.renew(objectKey)
        .then((held) => { if (held) renewedAt = Date.now(); else clearInterval(timer); })
        // A renewal that fails is retried on the next tick; if the lease lapses, the commit fails.
        .catch(() => undefined);
    }, Math.max(1_000, Math.floor(this.leaseMs / 4)));
    timer.unref();
    return {
      objectKey,
      stop: () => { if (!stopped) { stopped = true; clearInterval(timer); } },
      fresh: () => Date.now() - renewedAt < FRESH_MS,
    };
  }

  /**
   * Extends the lease, first taking the liveness lock again if this process lost it (the database
   * restarted, its session was terminated). False when the registration is gone: the sweep took it
   * as dead meanwhile, and the upload must not commit.
   */
  async renew(objectKey: string): Promise<boolean> {
    await this.ensureLiveness();
    return (await this.db('uploads_in_progress').update({ lease_until: this.leaseEnd() }).where({ object_key: objectKey })) > 0;
  }

  /** In the commit transaction: true when the registration was still live (and is now gone). */
  async finish(objectKey: string, trx: Trx): Promise<boolean> {
    const n = await trx('uploads_in_progress').where({ object_key: objectKey }).andWhereRaw(LIVE).delete();
    return n > 0;
  }

  /** After an abort, once the object is deleted. */
  async release(objectKey: string): Promise<void> {
    await this.db('uploads_in_progress').where({ object_key: objectKey }).delete();
  }

  /** Object keys of live registrations: the sweep leaves these alone. */
  async live(objectKeys?: readonly string[]): Promise<Set<string>> {
    const q = this.db('uploads_in_progress').select<{ object_key: string }[]>('object_key').whereRaw(LIVE);
    if (objectKeys) q.whereIn('object_key', [...objectKeys]);
    return new Set((await q).map((r) => r.object_key));
  }

  /**
   * Drops a registration that is no longer live, right before the sweep deletes its object. A
   * commit in progress holds the row until it ends, so this waits for it rather than racing it.
   */
  async dropExpired(objectKey: string): Promise<void> {
    await this.db('uploads_in_progress').where({ object_key: objectKey }).andWhereRaw(`NOT (${LIVE})`).delete();
  }

  /** Forgets registrations that stopped being live more than `olderThanMs` ago (or whose process died). */
  async purgeExpired(olderThanMs: number): Promise<number> {
    return this.db('uploads_in_progress')
      .whereRaw(`NOT (${LIVE}) AND (lease_until < now() - make_interval(secs => ?) OR lease_until > now())`, [olderThanMs / 1000]).delete();
  }

  /** Releases the liveness lock: registrations of this process stop being live. */
  async close(): Promise<void> {
    const held = this.liveness;
    this.liveness = undefined;
    this.livenessConfirmedAt = 0;
    if (held) await (await held.catch(() => null))?.release();
  }

  /** One check at a time: two sessions of this process waiting for the same lock would deadlock it. */
  private ensureLiveness(): Promise<void> {
    this.ensuring ??= this.reacquireIfLost().finally(() => { this.ensuring = undefined; });
    return this.ensuring;
  }

  private async reacquireIfLost(): Promise<void> {
    const checkedAt = Date.now();
    if (this.liveness !== undefined && (await this.lockHeld())) {
      this.livenessConfirmedAt = checkedAt;
      return;
    }
    this.livenessConfirmedAt = 0;
    const lost = this.liveness;
    this.liveness = undefined;
    if (lost) await (await lost.catch(() => null))?.release();
    const next = holdLiveness(this.db, this.who, 'uploads.liveness');
    this.liveness = next;
    await next.catch((err: unknown) => {
      if (this.liveness === next) this.liveness = undefined;
      throw err;
    });
    this.livenessConfirmedAt = checkedAt;
  }

  private async lockHeld(): Promise<boolean> {
    const result = await this.db.raw<{ rows: Array<{ held: boolean }> }>(`SELECT ${livenessHeldSql('uploads.liveness', '?::int4')} AS held`, [this.who.key]);
    return result.rows[0]?.held === true;
  }

  /** By the database's clock, like every comparison with it. */
  private leaseEnd(): Knex.Raw {
    return this.db.raw('now() + make_interval(secs => ?)', [this.leaseMs / 1000]);
  }
}
