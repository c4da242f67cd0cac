import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput } from '../audit/types.js';
import { ConflictError, DependencyError, NotFoundError } from '../errors.js';
import type { ClaimOwner } from '../db/locks.js';
import { lockHoldState, activeBySubject } from '../recordings/hold-queries.js';
import { claimForErasure } from '../recordings/lifecycle-queries.js';
import { RECORDING_STATUS } from '../recordings/status.js';
import { completeDeletions } from '../retention/deletion.js';
import type { GovernanceDeps } from './types.js';

/**
 * Erasure on request: one recording (DELETE /v1/recordings/{id}) or every recording of a data
 * subject (POST /v1/erasures, GDPR Article 17). Both claim rows exactly as the retention worker
 * does and then finish them through the same states (retention/deletion.ts), so an erasure cut
 * short by a crash or a storage outage is completed by the next retention pass, still audited
 * as an erasure. Held recordings are never erased.
 *
 * Under S3 Object Lock the store refuses to delete an object before its retain-until date; an
 * erasure then crypto-shreds: the data key is destroyed and the row tombstoned at once, and the
 * ciphertext, which nothing can decrypt any more, is removed by the orphan sweep once its lock
 * has expired.
 */
function requestOwner(actor: AuditActor): ClaimOwner {
  return { owner: `erasure:${actor.requestId ?? actor.sub}`, key: null };
}

export async function eraseRecording(deps: GovernanceDeps, tenant: string, id: string, note: string | null, actor: AuditActor): Promise<{ objectDeleted: boolean }> {
  const who = requestOwner(actor);
  const attempt = await deps.db.transaction(async (trx) => {
    const row = await lockHoldState(trx, tenant, id);
    if (!row || row.status === RECORDING_STATUS.deleted) throw new NotFoundError('No such recording');
    if (row.status === RECORDING_STATUS.deleting) throw new ConflictError('This recording is already being deleted', 'deletion_in_progress');
    if (row.legalHold) return { heldFor: row.caseId };
    return { claimed: await claimForErasure(trx, who, tenant, [id], deps.config.retention.leaseSeconds, { note, by: actor.sub }) };
  });
  if ('heldFor' in attempt) {
    // Refused once the row lock is released: the attempt is on the record although nothing happened.
    await deps.audit.recordDenied(refusedErasureEvent(tenant, id, note, actor, attempt.heldFor ?? null), actor.sub);
    throw new ConflictError('This recording is on legal hold and cannot be erased', 'legal_hold');
  }
  const claimed = attempt.claimed;
  const outcome = await completeDeletions(deps, who, claimed, {
    actor, details: { scope: 'recording' }, shredWhenObjectKept: deps.store.objectLock,
  });
  if (outcome.deleted.length !== 1) {
    throw new DependencyError('storage', 'The erasure has started but could not be finished now; the retention worker will complete it', outcome.failed[0]?.error);
  }
  return { objectDeleted: outcome.objectKept.length === 0 };
}

function refusedErasureEvent(tenant: string, id: string, note: string | null, actor: AuditActor, caseId: string | null): AuditEventInput {
  return {
    tenant, ...actorFields(actor), action: 'recording.deleted', outcome: 'denied', recordingId: id,
    details: { reason: 'legal_hold', request: 'erasure', scope: 'recording', note, caseId },
  };
}

export interface SubjectErasureResult {
  readonly erased: number;
  readonly recordingIds: string[];
  /** Matching recordings kept because they are on legal hold. */
  readonly skippedLegalHold: Array<{ id: string; callId: string; caseId: string | null }>;
  /** Claimed for erasure but not finished now; the retention worker completes them. */
  readonly pending: string[];
}

/**
 * Erases every active recording of the tenant whose caller or callee is `phone`, found through
 * the keyed phone hash index (the plain numbers are not indexed). One recording.deleted event per
 * recording, plus a summary event with the count, the ids and the held recordings skipped.
 */
export async function eraseBySubject(deps: GovernanceDeps, tenant: string, phone: string, note: string | null, actor: AuditActor): Promise<SubjectErasureResult> {
  const hash = deps.phones.hash(phone);
  const who = requestOwner(actor);
  const matches = await activeBySubject(deps.db, tenant, hash);
  const skippedLegalHold = matches.filter((m) => m.legalHold).map((m) => ({ id: m.id, callId: m.callId, caseId: m.caseId }));
  const wanted = matches.filter((m) => !m.legalHold).map((m) => m.id);
  const claimed = await deps.db.transaction((trx) => claimForErasure(trx, who, tenant, wanted, deps.config.retention.leaseSeconds, { note, by: actor.sub }));
  const erased: string[] = [];
  const pending: string[] = [];
  for (const batch of chunks(claimed, deps.config.retention.batchSize)) {
    const outcome = await completeDeletions(deps, who, batch, {
      actor, details: { scope: 'data_subject' }, shredWhenObjectKept: deps.store.objectLock,
    });
    erased.push(...outcome.deleted.map((r) => r.id));
    pending.push(...outcome.failed.map((f) => f.id), ...outcome.lost);
  }
  await deps.audit.record(summaryEvent(tenant, actor, note, erased, skippedLegalHold, pending));
  return { erased: erased.length, recordingIds: erased, skippedLegalHold, pending };
}

function summaryEvent(tenant: string, actor: AuditActor, note: string | null, erased: string[], held: SubjectErasureResult['skippedLegalHold'], pending: string[]): AuditEventInput {
  return {
    tenant, ...actorFields(actor), action: 'recording.deleted', outcome: 'allowed', recordingId: null,
    details: {
      reason: 'erasure', scope: 'data_subject', summary: true, note, count: erased.length, recordingIds: erased,
      skippedLegalHold: held.map((h) => h.id), pending,
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
