import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput } from '../audit/types.js';
import { ConflictError } from '../errors.js';
import type { Recording } from '../recordings/types.js';

/** What an upload carried: enough to say in the audit log what was refused. */
export interface AttemptedBody { readonly sha256: string; readonly sizeBytes: number }

/**
 * An upload that would replace what a callId already holds: other bytes (call_id_conflict) or
 * a recording that was erased or expired (recording_deleted). Nothing is stored; the refusal is
 * audited because it is an attempt to overwrite evidence.
 */
export class CallIdRefusedError extends ConflictError {
  constructor(readonly existing: Recording, readonly attempted: AttemptedBody) {
    super(
      existing.status !== 'active' ? 'This callId belonged to a recording that has been deleted' : 'A different recording was already uploaded under this callId',
      existing.status !== 'active' ? 'recording_deleted' : 'call_id_conflict',
    );
  }
}

/** A masked recording is compared by what it was received as: a retry sends those bytes again. */
export function sameOrConflict(existing: Recording, attempted: AttemptedBody): Recording {
  const received = existing.received?.sha256 ?? existing.sha256;
  if (existing.status !== 'active' || received !== attempted.sha256) throw new CallIdRefusedError(existing, attempted);
  return existing;
}

export function refusedUploadEvent(err: CallIdRefusedError, actor: AuditActor): AuditEventInput {
  const r = err.existing;
  return {
    tenant: r.tenant, ...actorFields(actor), action: 'recording.uploaded', outcome: 'denied', recordingId: r.id,
    details: { reason: err.code, callId: r.callId, sha256: err.attempted.sha256, sizeBytes: err.attempted.sizeBytes, existingStatus: r.status },
  };
}
