import { hostname } from 'node:os';
import type { Knex } from 'knex';
import type { Db, Trx } from '../db/knex.js';
import { DependencyError } from '../errors.js';

/**
 * Uploads between the start of their body and their commit or abort, registered in PostgreSQL so
 * that the orphan sweep of any replica can tell an object still being written or committed from
 * one nobody will ever commit. A registration is a lease that the uploading process renews while
 * it works; a process that dies stops renewing, and once the lease has run out its object is an
 * orphan like any other.
 *
 * The commit removes the registration in its own transaction and fails when it is no longer
 * there: a lease that lapsed (a stalled process, a database it could not reach) may have let the
 * sweep delete the object, and a row must never point at an object that may be gone.
 */
export const UPLOAD_LEASE_MS = 120_000;

export interface UploadLease {
  readonly objectKey: string;
  /** Stops renewing; the registration itself goes with the commit or with release(). */
  stop(): void;
}

export class UploadRegistry {
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(private readonly db: Db, private readonly leaseMs = UPLOAD_LEASE_MS) {}

  async register(objectKey: string, tenant: string, recordingId: string): Promise<UploadLease> {
    try {
      await this.db('uploads_in_progress').insert({
        object_key: objectKey, tenant, recording_id: recordingId, owner: this.owner, lease_until: this.leaseEnd(),
      });
    } catch (err) {
      throw new DependencyError('database', 'The upload could not be registered; nothing was stored', err);
    }
    let stopped = false;
    const timer = setInterval(() => {
      this.db('uploads_in_progress').update({ lease_until: this.leaseEnd() }).where({ object_key: objectKey })
        .then((n) => { if (n === 0) clearInterval(timer); })
        // A renewal that fails is retried on the next tick; if the lease lapses, the commit fails.
        .catch(() => undefined);
    }, Math.max(1_000, Math.floor(this.leaseMs / 4)));
    timer.unref();
    return { objectKey, stop: () => { if (!stopped) { stopped = true; clearInterval(timer); } } };
  }

  /** In the commit transaction: true when the registration was still there (and is now gone). */
  async finish(objectKey: string, trx: Trx): Promise<boolean> {
    const n = await trx('uploads_in_progress').where({ object_key: objectKey }).andWhere('lease_until', '>', trx.fn.now()).delete();
    return n > 0;
  }

  /** After an abort, once the object is deleted. */
  async release(objectKey: string): Promise<void> {
    await this.db('uploads_in_progress').where({ object_key: objectKey }).delete();
  }

  /** Object keys of registrations whose lease still runs: the sweep leaves these alone. */
  async live(objectKeys?: readonly string[]): Promise<Set<string>> {
    const q = this.db('uploads_in_progress').select<{ object_key: string }[]>('object_key').where('lease_until', '>', this.db.fn.now());
    if (objectKeys) q.whereIn('object_key', [...objectKeys]);
    return new Set((await q).map((r) => r.object_key));
  }

  /**
   * Drops a registration whose lease ran out, right before the sweep deletes its object. A commit
   * in progress holds the row until it ends, so this waits for it rather than racing it.
   */
  async dropExpired(objectKey: string): Promise<void> {
    await this.db('uploads_in_progress').where({ object_key: objectKey }).andWhere('lease_until', '<=', this.db.fn.now()).delete();
  }

  /** Forgets registrations of uploads that died without a word (a killed process) long ago. */
  async purgeExpired(olderThanMs: number): Promise<number> {
    return this.db('uploads_in_progress').where('lease_until', '<', this.db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000])).delete();
  }

  /** By the database's clock, like every comparison with it. */
  private leaseEnd(): Knex.Raw {
    return this.db.raw('now() + make_interval(secs => ?)', [this.leaseMs / 1000]);
  }
}
