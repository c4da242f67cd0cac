import { actorFields, type AuditActor } from '../audit/actor.js';
import type { Trx } from '../db/knex.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { mapLimit } from '../lib/map-limit.js';
import { auditableFilter, type RecordingFilter } from '../recordings/filter.js';
import {
  clearHold, countHeldMatching, holdMatching, lockHoldState, releaseCaseHolds, setHold, type HeldObject, type HoldRecord,
} from '../recordings/hold-queries.js';
import { RECORDING_STATUS } from '../recordings/status.js';
import type { GovernanceDeps } from './types.js';

/**
 * Legal holds. A held recording is skipped by retention and refused by erasure. The database
 * flag is what the vault obeys; with S3 Object Lock the object also carries an S3 legal hold, so
 * not even credentials to the bucket can delete it. A recording already being deleted (status
 * 'deleting') cannot be put on hold: its deletion was decided before the hold arrived.
 */
export interface HoldRequest { readonly reason: string; readonly caseId: string | null }

export interface HoldState {
  readonly recordingId: string;
  readonly legalHold: boolean;
  readonly reason: string | null;
  readonly caseId: string | null;
  readonly setBy: string | null;
  readonly setAt: string | null;
}

function toState(r: HoldRecord): HoldState {
  return {
    recordingId: r.id, legalHold: r.legalHold, reason: r.reason, caseId: r.caseId,
    setBy: r.setBy, setAt: r.setAt?.toISOString() ?? null,
  };
}

async function lockForHold(trx: Trx, tenant: string, id: string): Promise<HoldRecord> {
  const row = await lockHoldState(trx, tenant, id);
  if (!row || row.status === RECORDING_STATUS.deleted) throw new NotFoundError('No such recording');
  if (row.status === RECORDING_STATUS.deleting) throw new ConflictError('This recording is being deleted; it can no longer be held', 'deletion_in_progress');
  return row;
}

/** Sets (or updates the reason and case of) the hold on one recording. */
export async function setLegalHold(deps: GovernanceDeps, tenant: string, id: string, req: HoldRequest, actor: AuditActor): Promise<HoldState> {
  return deps.db.transaction(async (trx) => {
    const before = await lockForHold(trx, tenant, id);
    const row = await setHold(trx, tenant, id, { ...req, by: actor.sub });
    if (!row) throw new Error('held recording vanished under its row lock');
    // Before the audit event: the event takes the audit chain lock, which must not wait on S3.
    if (deps.store.objectLock && before.objectKey) await deps.store.setLegalHold(before.objectKey, true);
    await deps.audit.record({
      tenant, ...actorFields(actor), action: 'legal_hold.set', outcome: 'allowed', recordingId: id,
      details: { reason: req.reason, caseId: req.caseId, ...(before.legalHold ? { previousReason: before.reason, previousCaseId: before.caseId } : {}) },
    }, trx);
    return toState(row);
  });
}

/** Clears the hold; false when the recording was not held (nothing changes, nothing is audited). */
export async function clearLegalHold(deps: GovernanceDeps, tenant: string, id: string, reason: string | null, actor: AuditActor): Promise<boolean> {
  return deps.db.transaction(async (trx) => {
    const before = await lockForHold(trx, tenant, id);
    if (!before.legalHold) return false;
    await clearHold(trx, tenant, id);
    if (deps.store.objectLock && before.objectKey) await deps.store.setLegalHold(before.objectKey, false);
    await deps.audit.record({
      tenant, ...actorFields(actor), action: 'legal_hold.cleared', outcome: 'allowed', recordingId: id,
      details: { ...(reason ? { reason } : {}), previousReason: before.reason, caseId: before.caseId },
    }, trx);
    return true;
  });
}

export interface BulkHoldResult {
  /** Recordings this request put on hold. */
  readonly held: number;
  /** Matching recordings that were already on hold; their reason and case are left as they were. */
  readonly alreadyHeld: number;
  readonly recordingIds: string[];
  /** Objects whose S3 legal hold could not be set (Object Lock only); the database hold stands. */
  readonly objectLockFailed: string[];
}

/**
 * Holds every active recording of the tenant that matches `filter`, in one set-based UPDATE and
 * one summary audit event (count and ids) in the same transaction, so ten thousand recordings
 * take one statement, not ten thousand. S3 legal holds follow after the commit.
 */
export async function holdByFilter(deps: GovernanceDeps, tenant: string, filter: RecordingFilter, req: HoldRequest, actor: AuditActor): Promise<BulkHoldResult> {
  const { rows, alreadyHeld } = await deps.db.transaction(async (trx) => {
    const updated = await holdMatching(trx, tenant, filter, { ...req, by: actor.sub });
    const already = (await countHeldMatching(trx, tenant, filter)) - updated.length;
    await deps.audit.record({
      tenant, ...actorFields(actor), action: 'legal_hold.set', outcome: 'allowed', recordingId: null,
      details: { bulk: true, reason: req.reason, caseId: req.caseId, filter: auditableFilter(filter), count: updated.length, alreadyHeld: already, recordingIds: updated.map((u) => u.id) },
    }, trx);
    return { rows: updated, alreadyHeld: already };
  });
  const objectLockFailed = await mirrorHolds(deps, rows, true);
  return { held: rows.length, alreadyHeld, recordingIds: rows.map((r) => r.id), objectLockFailed };
}

export interface BulkReleaseResult { readonly released: number; readonly recordingIds: string[]; readonly objectLockFailed: string[] }

/** Releases every hold of the tenant placed under `caseId` (one UPDATE, one summary event). */
export async function releaseCase(deps: GovernanceDeps, tenant: string, caseId: string, reason: string | null, actor: AuditActor): Promise<BulkReleaseResult> {
  const rows = await deps.db.transaction(async (trx) => {
    const updated = await releaseCaseHolds(trx, tenant, caseId);
    await deps.audit.record({
      tenant, ...actorFields(actor), action: 'legal_hold.cleared', outcome: 'allowed', recordingId: null,
      details: { bulk: true, caseId, ...(reason ? { reason } : {}), count: updated.length, recordingIds: updated.map((u) => u.id) },
    }, trx);
    return updated;
  });
  const objectLockFailed = await mirrorHolds(deps, rows, false);
  return { released: rows.length, recordingIds: rows.map((r) => r.id), objectLockFailed };
}

async function mirrorHolds(deps: GovernanceDeps, rows: readonly HeldObject[], on: boolean): Promise<string[]> {
  if (!deps.store.objectLock) return [];
  const failed: string[] = [];
  await mapLimit(rows, 16, async (r) => {
    if (!r.objectKey) return;
    try {
      await deps.store.setLegalHold(r.objectKey, on);
    } catch (err) {
      failed.push(r.id);
      deps.logger?.warn({ err, recordingId: r.id }, 'the S3 legal hold of an object could not be changed; the database hold stands');
    }
  });
  return failed;
}
