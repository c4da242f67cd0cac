import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import { addDuration } from '../config/duration.js';
import type { Trx } from '../db/knex.js';
import { AppError, DependencyError } from '../errors.js';
import type { KeyVersionStore } from '../keys/versions.js';
import type { PolicyStore } from '../retention/policy-store.js';
import type { ObjectStore } from '../storage/types.js';
import { checkRetentionOpen, checkStartedAt } from './arrival.js';
import { lookUpCommitOutcome } from './commit-outcome.js';
import { checkBody, hashOnly, objectKeyFor, writeEncrypted, type StageDeps, type StageSettings, type StagedBody, type StagedSlot } from './ingest-stage.js';
import type { UploadMetadata } from '../recordings/metadata.js';
import type { PhoneHasher } from '../recordings/phone.js';
import { CallIdRefusedError, refusedUploadEvent, sameOrConflict } from './refusals.js';
import type { RecordingStore } from '../recordings/store.js';
import type { UploadRegistry } from '../recordings/uploads-in-progress.js';
import { dtmfReceipt, type Recording } from '../recordings/types.js';
import type { DtmfPolicy } from '../tenants/store.js';
import type { MaskFill } from '../audio/dtmf-fill.js';

export { objectKeyFor } from './ingest-stage.js';

/**
 * An upload in two phases. Staging streams the body through sniffing, hashing and encryption into
 * the object store under a fresh id; nothing refers to that object yet. The commit then inserts
 * the row (with the wrapped key) and its audit event in one transaction. A recording therefore
 * becomes visible only when both its object and its row are durable; a failure before the commit
 * leaves at most an unreferenced object, deleted at once or by the orphan sweep. A failure during
 * COMMIT is not a failure until a lookup says so: the object is deleted only once it is known
 * that no committed row refers to it.
 */
export interface IngestDeps extends StageDeps {
  readonly db: { transaction<T>(work: (trx: Trx) => Promise<T>): Promise<T> };
  readonly recordings: Pick<RecordingStore, 'insert' | 'findByCallId'>;
  readonly store: Pick<ObjectStore, 'put' | 'delete' | 'objectLock'>;
  /** The commit refuses a data key whose master key version is being retired (src/keys/versions.ts). */
  readonly keyVersions: Pick<KeyVersionStore, 'assertCommittable'>;
  readonly uploads: Pick<UploadRegistry, 'register' | 'renew' | 'finish' | 'release'>;
  readonly policies: Pick<PolicyStore, 'resolve'>;
  readonly phones: Pick<PhoneHasher, 'hash'>;
  /** recordDenied: refused attempts to overwrite a callId are audited. */
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
}

export interface IngestSettings extends StageSettings {
  /** How far ahead of the vault's clock a startedAt may be (RECORDING_MAX_CLOCK_SKEW). */
  readonly maxClockSkewMs: number;
  /** How long to look for the outcome of a COMMIT whose reply was lost (commit-outcome.ts). */
  readonly commitOutcomeWaitMs: number;
}

/** Which recording an upload is, and what the PBX says about it. */
export interface UploadTarget { readonly callId: string; readonly meta: UploadMetadata }

/** A raw body (PUT): the callId and metadata are known before its first byte. */
export interface RawUpload extends UploadTarget { readonly kind: 'raw'; readonly body: Readable }

/**
 * A form (POST multipart), whose fields may come before or after its file part. `read` streams
 * the form and hands the file part to `onFile` with the metadata of the fields sent before it;
 * it settles only once onFile has, and resolves with onFile's result and a `target` parsed from
 * every field (which throws when they do not parse).
 */
export interface FormUpload {
  readonly kind: 'form';
  read<T>(onFile: (file: Readable, early: UploadMetadata) => Promise<T>): Promise<{ readonly file: T; target(): UploadTarget }>;
}

export interface UploadRequest {
  readonly tenant: string;
  readonly actor: AuditActor;
  /** The SHA-256 the client sent with the body, if any. */
  readonly expectedSha256: string | null;
  readonly source: RawUpload | FormUpload;
}

/** created: a new recording (201); otherwise the receipt of the one this callId already holds (200). */
export interface UploadResult { readonly created: boolean; readonly recording: Recording }

/** The policy and retainUntil an upload gets: its `policy` parameter, else the tenant default. */
export interface UploadRetention {
  readonly policy: string;
  readonly retainUntil: Date;
  /** The metadata it was resolved from. */
  readonly basis: Pick<UploadMetadata, 'policy' | 'startedAt'>;
  /** The tenant's own KMS key, read with the policy (PolicyStore.resolve). */
  readonly tenantKmsKeyId: string | null;
  /** The tenant's DTMF setting, read with the policy. */
  readonly dtmf: DtmfPolicy;
  readonly dtmfFill: MaskFill;
}

interface StagedRecording extends StagedBody {
  readonly id: string; readonly tenant: string; readonly objectKey: string;
  /** Resolved before the body was read: under Object Lock, the object carries its retainUntil. */
  readonly retention: UploadRetention;
}

export class IngestService {
  constructor(private readonly deps: IngestDeps, private readonly settings: IngestSettings) {}

  /**
   * One upload, from the body's first byte to the recording it leaves. An attempt to overwrite
   * what a callId holds is refused and audited as denied; a retry that only gets the existing
   * receipt back is an access too, audited (durably) before the result is returned.
   */
  async upload(request: UploadRequest): Promise<UploadResult> {
    try {
      const result = request.source.kind === 'raw' ? await this.uploadRaw(request, request.source) : await this.uploadForm(request, request.source);
      if (!result.created) await this.deps.audit.record(uploadEvent(result.recording, request.actor, { created: false }));
      return result;
    } catch (err) {
      if (err instanceof CallIdRefusedError) await this.deps.audit.recordDenied(refusedUploadEvent(err, request.actor), request.actor.sub);
      throw err;
    }
  }

  /** Refuses a startedAt too far ahead (400) and a window that closed before arrival (422): see arrival.ts. */
  private async resolveRetention(tenant: string, meta: Pick<UploadMetadata, 'policy' | 'startedAt'>, trx?: Trx): Promise<UploadRetention> {
    const now = new Date();
    checkStartedAt(meta.startedAt, now, this.settings.maxClockSkewMs);
    const policy = await this.deps.policies.resolve(tenant, meta.policy, trx);
    const retainUntil = addDuration(meta.startedAt ?? now, policy.retain);
    checkRetentionOpen(retainUntil, policy.name, now);
    return { policy: policy.name, retainUntil, basis: { policy: meta.policy, startedAt: meta.startedAt }, tenantKmsKeyId: policy.tenantKmsKeyId, dtmf: policy.dtmf, dtmfFill: policy.dtmfFill };
  }

  private async uploadRaw(request: UploadRequest, source: RawUpload): Promise<UploadResult> {
    const existing = await this.deps.recordings.findByCallId(request.tenant, source.callId);
    if (existing) {
      const attempted = await hashOnly(this.settings, source.body);
      checkBody(attempted, request.expectedSha256);
      return { created: false, recording: sameOrConflict(existing, attempted) };
    }
    // Before the body is read: a refused upload costs no data key and no byte stored.
    const retention = await this.resolveRetention(request.tenant, source.meta);
    return this.owning(async (slot) => this.commit(slot, await this.stage(slot, request, source.body, retention), source, request.actor));
  }

  private uploadForm(request: UploadRequest, source: FormUpload): Promise<UploadResult> {
    return this.owning(async (slot) => {
      const { file: staged, target } = await source.read(async (file, early) => (
        this.stage(slot, request, file, await this.resolveRetention(request.tenant, early))));
      return this.commit(slot, staged, target(), request.actor);
    });
  }

  /**
   * Runs one upload's staging and commit. This is the one place a staged object is discarded:
   * when the upload ends without a committed row that refers, or may refer, to it. The object
   * goes first, then its registration: an object left behind by a failed delete is the sweep's.
   */
  private async owning(work: (slot: StagedSlot) => Promise<UploadResult>): Promise<UploadResult> {
    const slot: StagedSlot = { objectKey: null, lease: null, kept: false };
    try {
      return await work(slot);
    } finally {
      slot.lease?.stop();
      if (slot.objectKey !== null && !slot.kept) {
        await this.deps.store.delete(slot.objectKey).catch(() => undefined);
        await this.deps.uploads.release(slot.objectKey).catch(() => undefined);
      }
    }
  }

  private async stage(slot: StagedSlot, request: UploadRequest, body: Readable, retention: UploadRetention): Promise<StagedRecording> {
    const id = randomUUID();
    const written = await writeEncrypted(this.deps, this.settings, slot, {
      tenant: request.tenant, id, body, retainUntil: this.deps.store.objectLock ? retention.retainUntil : undefined, tenantKmsKeyId: retention.tenantKmsKeyId,
      dtmf: retention.dtmf, dtmfFill: retention.dtmfFill,
    });
    checkBody(written.received, request.expectedSha256);
    return { ...written, id, tenant: request.tenant, objectKey: objectKeyFor(request.tenant, id), retention };
  }

  private async commit(slot: StagedSlot, staged: StagedRecording, target: UploadTarget, actor: AuditActor): Promise<UploadResult> {
    const state = { committing: false };
    try {
      // The database may have restarted while the body streamed, taking this process's liveness
      // lock. A lease a couple of seconds old is not renewed first: finish() checks the lock, and
      // a refusal is retried once after a renewal, which takes the lock again.
      const fresh = slot.lease?.fresh() === true;
      if (!fresh) await this.deps.uploads.renew(staged.objectKey);
      const result = await this.commitOnce(staged, target, actor, state).catch(async (err: unknown) => {
        if (!fresh || !(err instanceof RegistrationLapsedError)) throw err;
        await this.deps.uploads.renew(staged.objectKey);
        return this.commitOnce(staged, target, actor, state);
      });
      slot.kept = result.created;
      return result;
    } catch (err) {
      if (state.committing) return this.settleUnansweredCommit(slot, staged, target.callId, err);
      throw err instanceof AppError ? err : new DependencyError('database', 'The recording could not be committed; nothing was kept', err);
    }
  }

  /** One commit transaction: the row and its audit event, or nothing. */
  private commitOnce(staged: StagedRecording, target: UploadTarget, actor: AuditActor, state: { committing: boolean }): Promise<UploadResult> {
    const { deps } = this;
    const { callId, meta } = target;
    return deps.db.transaction(async (trx): Promise<UploadResult> => {
      await deps.keyVersions.assertCommittable(staged.keyRef, trx);
      if (!(await deps.uploads.finish(staged.objectKey, trx))) throw new RegistrationLapsedError();
      const inserted = await deps.recordings.insert({
        ...staged, callId, ...(await this.finalRetention(staged, meta, trx)),
        startedAt: meta.startedAt, durationSeconds: meta.durationSeconds, direction: meta.direction, from: meta.from, to: meta.to,
        fromHash: meta.from ? deps.phones.hash(meta.from) : null, toHash: meta.to ? deps.phones.hash(meta.to) : null,
        agentId: meta.agentId, tags: meta.tags, uploadedBy: actor.sub,
        // Only a masked recording records what was received: otherwise it is what is stored.
        received: staged.dtmfSpans ? staged.received : null, dtmfSpans: staged.dtmfSpans,
      }, trx);
      if (!inserted) return { created: false, recording: await this.existingOrThrow(staged, callId) };
      await deps.audit.record(uploadEvent(inserted, actor, { created: true }), trx);
      // From here on a failure may come after PostgreSQL committed: only a lookup can tell.
      state.committing = true;
      return { created: true, recording: inserted };
    });
  }

  /**
   * Metadata a form sends after its file part may name another policy or start time than the
   * fields before it: only then is retention resolved again, at commit. Of the two retainUntil
   * dates the later is kept when the object is locked: the vault must never try to delete an
   * object whose lock is still running, nor before its policy allows.
   */
  private async finalRetention(staged: StagedRecording, meta: UploadMetadata, trx: Trx): Promise<{ policy: string; retainUntil: Date }> {
    const early = staged.retention;
    const same = early.basis.policy === meta.policy && early.basis.startedAt?.getTime() === meta.startedAt?.getTime();
    if (same) return { policy: early.policy, retainUntil: early.retainUntil };
    const resolved = await this.resolveRetention(staged.tenant, meta, trx);
    const locked = this.deps.store.objectLock && early.retainUntil > resolved.retainUntil;
    return { policy: resolved.policy, retainUntil: locked ? early.retainUntil : resolved.retainUntil };
  }

  /** The lookup throws a 503 when it cannot tell: the object is then kept, since a row may refer to it. */
  private async settleUnansweredCommit(slot: StagedSlot, staged: StagedRecording, callId: string, cause: unknown): Promise<UploadResult> {
    slot.kept = true;
    const found = await lookUpCommitOutcome({ recordings: this.deps.recordings, commitOutcomeWaitMs: this.settings.commitOutcomeWaitMs }, staged.tenant, callId, cause);
    slot.kept = found?.id === staged.id;
    if (slot.kept && found) return { created: true, recording: found };
    if (found) return { created: false, recording: sameOrConflict(found, staged.received) };
    throw new DependencyError('database', 'The recording could not be committed; nothing was kept', cause);
  }

  private async existingOrThrow(staged: StagedRecording, callId: string): Promise<Recording> {
    const existing = await this.deps.recordings.findByCallId(staged.tenant, callId);
    if (!existing) throw new DependencyError('database', 'The recording row vanished during the upload; retry');
    return sameOrConflict(existing, staged.received);
  }
}

class RegistrationLapsedError extends DependencyError {
  constructor() {
    super('database', 'The upload\'s registration lapsed before its commit (the vault could not renew it); nothing was kept, retry the upload');
  }
}

export function uploadEvent(r: Recording, actor: AuditActor, details: Record<string, unknown>): AuditEventInput {
  return {
    tenant: r.tenant, ...actorFields(actor), action: 'recording.uploaded', outcome: 'allowed', recordingId: r.id,
    details: {
      callId: r.callId, sha256: r.sha256, sizeBytes: r.sizeBytes, contentType: r.contentType, policy: r.policy, ...details,
      ...(r.dtmfSpans && r.received ? { dtmf: dtmfReceipt(r.dtmfSpans, r.received, r.contentType) } : {}),
    },
  };
}
