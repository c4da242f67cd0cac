import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput } from '../audit/types.js';
import type { Trx } from '../db/knex.js';
import type { ClaimOwner } from '../db/locks.js';
import { dataKeyCacheKey } from '../keys/cache.js';
import { mapLimit } from '../lib/map-limit.js';
import { peaksObjectKey } from '../peaks/object.js';
import type { ClaimedRecording } from '../recordings/lifecycle-queries.js';
import type { DeletionDeps } from './types.js';

/**
 * Finishing claimed deletions. For each recording, in this order:
 *   1. (the claim) the row is 'deleting', leased to `who`;
 *   2. the object is deleted, every version of it, and so is its peaks object (src/peaks);
 *      not-found counts as done;
 *   3. the wrapped data key is destroyed (set to NULL), which crypto-shreds any copy of the
 *      object that survives elsewhere, e.g. in a bucket backup;
 *   4. the row becomes a tombstone and recording.deleted is written, in one transaction.
 * Each step is idempotent, so a run killed anywhere is finished by whichever worker claims the
 * row next. Step 4 only touches rows whose lease is still `who`'s: if a slow worker's lease was
 * taken over, its tombstone update matches nothing and writes no event, so each recording is
 * deleted, and audited, exactly once.
 */
export interface DeletionOptions {
  readonly actor: AuditActor;
  /** Extra details on each recording.deleted event (e.g. scope of a data-subject erasure). */
  readonly details?: Record<string, unknown>;
  /**
   * When the object cannot be deleted, still destroy the key and write the tombstone (the object
   * stays as undecryptable ciphertext for the orphan sweep). Used for erasure under S3 Object
   * Lock, where the store refuses deletes until the lock expires.
   */
  readonly shredWhenObjectKept?: boolean;
  readonly concurrency?: number;
}

export interface DeletionFailure { readonly id: string; readonly error: Error }

export interface DeletionOutcome {
  /** Tombstoned by this call, with their recording.deleted event. */
  readonly deleted: ClaimedRecording[];
  /** Tombstoned although their object could not be deleted (shredWhenObjectKept). */
  readonly objectKept: string[];
  /** Left 'deleting' for a later run. */
  readonly failed: DeletionFailure[];
  /** No longer ours when we came to tombstone them (another worker took the lease over). */
  readonly lost: string[];
}

export async function completeDeletions(deps: DeletionDeps, who: ClaimOwner, claimed: readonly ClaimedRecording[], opts: DeletionOptions): Promise<DeletionOutcome> {
  const failed: DeletionFailure[] = [];
  const objectKept: string[] = [];
  const stored = await mapLimit(claimed, opts.concurrency ?? 16, async (r) => {
    try {
      // The peaks go first: derived from the recording, they must never outlive its object.
      await deps.store.delete(peaksObjectKey(r.tenant, r.id));
      if (r.objectKey) await deps.store.delete(r.objectKey);
      return true;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (opts.shredWhenObjectKept) {
        objectKept.push(r.id);
        deps.logger?.warn({ err: error, recordingId: r.id }, 'object could not be deleted; crypto-shredding the recording instead');
        return true;
      }
      failed.push({ id: r.id, error });
      return false;
    }
  });
  const ready = claimed.filter((_r, i) => stored[i]);
  if (ready.length === 0) return { deleted: [], objectKept: [], failed, lost: [] };
  await destroyKeys(deps, who, ready);
  const tombstoned = await deps.db.transaction((trx) => tombstone(trx, deps, who, ready, objectKept, opts));
  const lost = ready.filter((r) => !tombstoned.has(r.id)).map((r) => r.id);
  return {
    deleted: ready.filter((r) => tombstoned.has(r.id)),
    objectKept: objectKept.filter((id) => tombstoned.has(id)),
    failed, lost,
  };
}

async function destroyKeys(deps: DeletionDeps, who: ClaimOwner, rows: readonly ClaimedRecording[]): Promise<void> {
  await deps.recordings.destroyKeys(who, rows);
  for (const r of rows) {
    if (r.wrappedKey && r.keyRef) deps.keyCache?.delete(dataKeyCacheKey({ tenant: r.tenant, recordingId: r.id }, r.keyRef, r.wrappedKey));
  }
}

/** Tombstones the rows still ours and writes their recording.deleted events, in `trx`: one statement each for the whole batch. */
async function tombstone(trx: Trx, deps: DeletionDeps, who: ClaimOwner, rows: readonly ClaimedRecording[], objectKept: readonly string[], opts: DeletionOptions): Promise<Set<string>> {
  const done = await deps.recordings.tombstone(who, rows, opts.actor.sub, trx);
  const kept = new Set(objectKept);
  await deps.audit.recordMany(rows.filter((r) => done.has(r.id)).map((r) => deletedEvent(r, opts, kept.has(r.id))), trx);
  return done;
}

function deletedEvent(r: ClaimedRecording, opts: DeletionOptions, objectKept: boolean): AuditEventInput {
  return {
    tenant: r.tenant, ...actorFields(opts.actor), action: 'recording.deleted', outcome: 'allowed', recordingId: r.id,
    details: {
      reason: r.kind, callId: r.callId, sha256: r.sha256, policy: r.policy, retainUntil: r.retainUntil?.toISOString() ?? null,
      ...(r.note ? { note: r.note } : {}),
      ...(r.requestedBy && r.requestedBy !== opts.actor.sub ? { requestedBy: r.requestedBy } : {}),
      objectDeleted: !objectKept, keyDestroyed: true,
      ...opts.details,
    },
  };
}
