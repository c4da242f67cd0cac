import { randomBytes, randomUUID } from 'node:crypto';
import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import type { Db, Trx } from '../db/knex.js';
import { AppError, ConflictError, DependencyError, NotFoundError, PayloadTooLargeError, UnprocessableContentError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import { objectKeyFor, writeEncrypted, type StageDeps, type StagedBody, type StagedSlot } from '../ingest/ingest-stage.js';
import { supersedeLinks } from '../links/store.js';
import { dataKeyCacheKey, type DataKeyCache } from '../keys/cache.js';
import type { KeyProvider } from '../keys/types.js';
import type { KeyVersionStore } from '../keys/versions.js';
import type { RecordingStore } from '../recordings/store.js';
import type { Recording } from '../recordings/types.js';
import type { UploadRegistry } from '../recordings/uploads-in-progress.js';
import { replaceVersion } from '../recordings/version-queries.js';
import { peaksObjectKey } from '../peaks/object.js';
import type { ObjectStore } from '../storage/types.js';
import type { TenantStore } from '../tenants/store.js';
import { openRedacted } from './source.js';
import type { RedactionStore } from './store.js';
import { rangesView, type Redaction, type RedactionOrder } from './types.js';

/**
 * Making a redacted version, crash-safe the way an upload is (src/ingest/ingest.ts). Staging
 * streams the decrypted recording through the redaction and a new data key's encryption into a
 * new object, registered in uploads_in_progress so that no sweep takes it while it is written.
 * The commit then swaps the row to the new object and key (compare-and-set on the version), writes
 * the receipt, ends the links issued before, and audits, in one transaction. Until that commit
 * the old version is whole and served; after it the new one is. A process killed before it
 * leaves an object nobody refers to, killed after it leaves the old object unreferenced: the
 * orphan sweep deletes either. The old wrapped key is overwritten by the commit itself, so a
 * `pci` original is crypto-shredded the moment the new version exists; its object is deleted
 * (every version of it) right after.
 */
export interface RedactionDeps extends StageDeps {
  readonly db: Pick<Db, 'transaction'>;
  readonly recordings: Pick<RecordingStore, 'findActive' | 'lockActive'>;
  readonly store: Pick<ObjectStore, 'put' | 'get' | 'delete' | 'objectLock' | 'setLegalHold'>;
  readonly keys: Pick<KeyProvider, 'generateDataKey' | 'decryptDataKey'>;
  readonly keyCache: DataKeyCache;
  readonly keyVersions: Pick<KeyVersionStore, 'assertCommittable'>;
  readonly uploads: Pick<UploadRegistry, 'register' | 'finish' | 'release'>;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly redactions: RedactionStore;
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  readonly logger?: Pick<Logger, 'warn'>;
}

export interface RedactionSettings { readonly maxBytes: number }

/** Who asked and, under four-eyes, which request and whose approval this redaction carries out. */
export interface RedactionAuthority {
  readonly actor: AuditActor;
  readonly requestedBy: string;
  readonly approval: { readonly requestId: string; readonly note: string | null } | null;
}

export async function redact(deps: RedactionDeps, settings: RedactionSettings, tenant: string, id: string, order: RedactionOrder, by: RedactionAuthority): Promise<Redaction> {
  const recording = await deps.recordings.findActive(tenant, id);
  if (!recording) throw new NotFoundError('No such recording');
  const keep = await keepsOriginal(deps, tenant, order);
  checkHold(recording, order, keep);
  const { body } = await openRedacted(deps, recording, order);
  // The staging reports a failing body as a truncated upload; the body's own error is the true one.
  let bodyFailure: unknown = null;
  body.once('error', (err) => { bodyFailure = err; });
  const slot: HeldSlot = { objectKey: null, lease: null, kept: false, held: false };
  try {
    const tenantKms = (await deps.tenants.get(tenant)).kmsKeyId;
    // Beside the recording's own key, so that an orphan of it is still audited under the recording.
    const objectKey = `${objectKeyFor(tenant, id)}.${randomBytes(8).toString('hex')}`;
    const staged = await writeEncrypted(deps, settings, slot, {
      tenant, id, body, objectKey, tenantKmsKeyId: tenantKms,
      retainUntil: deps.store.objectLock && recording.retainUntil ? recording.retainUntil : undefined,
    }).catch((err: unknown) => { throw asRedactionFailure(bodyFailure ?? err, settings); });
    const redaction = await commit(deps, slot, recording, staged, order, by, keep);
    await afterCommit(deps, recording, redaction, by.actor);
    return redaction;
  } finally {
    body.destroy();
    slot.lease?.stop();
    if (slot.objectKey !== null && !slot.kept) {
      // A held object cannot be deleted: the hold a failed commit set comes off first.
      if (slot.held) await deps.store.setLegalHold(slot.objectKey, false).catch(() => undefined);
      await deps.store.delete(slot.objectKey).catch(() => undefined);
      await deps.uploads.release(slot.objectKey).catch(() => undefined);
    }
  }
}

/** The staged object, and whether the commit put an S3 legal hold on it. */
interface HeldSlot extends StagedSlot { held: boolean }

/** `pii` keeps a sealed original only when the tenant said so (PUT /v1/redaction-settings). */
export async function keepsOriginal(deps: Pick<RedactionDeps, 'redactions'>, tenant: string, order: RedactionOrder, trx?: Trx): Promise<boolean> {
  return order.category === 'pii' && await deps.redactions.keepsPiiOriginal(tenant, trx);
}

/**
 * A held recording must stay producible as it was: only a `pii` redaction that keeps the
 * original sealed may touch it (docs/redaction.md, "Legal hold").
 */
export function checkHold(r: Pick<Recording, 'legalHold'>, order: RedactionOrder, keep: boolean): void {
  if (!r.legalHold || keep) return;
  const why = order.category === 'pci'
    ? 'a pci redaction destroys the original, which a legal hold must preserve'
    : 'this tenant does not keep pii originals, and a legal hold must preserve the original';
  throw new ConflictError(`This recording is on legal hold: ${why}`, 'legal_hold');
}

async function commit(deps: RedactionDeps, slot: HeldSlot, before: Recording, staged: StagedBody, order: RedactionOrder, by: RedactionAuthority, keep: boolean): Promise<Redaction> {
  const objectKey = slot.objectKey ?? '';
  try {
    const redaction = await deps.db.transaction(async (trx) => {
      await deps.keyVersions.assertCommittable(staged.keyRef, trx);
      if (!(await deps.uploads.finish(objectKey, trx))) throw new DependencyError('database', 'The redacted version\'s registration lapsed before its commit; nothing was changed, retry');
      const current = await deps.recordings.lockActive(before.tenant, before.id, trx);
      if (!current) throw new NotFoundError('No such recording');
      if (current.version !== before.version) throw new ConflictError('The recording was redacted by someone else meanwhile; nothing was changed, retry', 'redaction_conflict');
      checkHold(current, order, keep);
      // The hold as it is now, under the row lock that setLegalHold and clearLegalHold also take:
      // one set or cleared while the version was staged reaches the new object. Before the audit
      // events, whose chain lock must not wait on S3.
      if (deps.store.objectLock && current.legalHold) {
        slot.held = true;
        await deps.store.setLegalHold(objectKey, true);
      }
      if (by.approval && !(await deps.redactions.decide(trx, before.tenant, by.approval.requestId, { status: 'approved', by: by.actor.sub, note: by.approval.note, redactionId: null }))) {
        throw new ConflictError('This redaction request has already been decided', 'redaction_request_decided');
      }
      return swap(deps, trx, current, { ...staged, objectKey }, order, by, keep);
    });
    slot.kept = true;
    return redaction;
  } catch (err) {
    // A COMMIT whose answer was lost may have committed: the object is kept unless the row says otherwise.
    if (!(err instanceof AppError)) slot.kept = await committedMeanwhile(deps, before, objectKey);
    throw err;
  }
}

async function committedMeanwhile(deps: RedactionDeps, before: Recording, objectKey: string): Promise<boolean> {
  try {
    return (await deps.recordings.findActive(before.tenant, before.id))?.objectKey === objectKey;
  } catch {
    return true;
  }
}

async function swap(deps: RedactionDeps, trx: Trx, current: Recording, staged: StagedBody & { objectKey: string }, order: RedactionOrder, by: RedactionAuthority, keep: boolean): Promise<Redaction> {
  const next = await replaceVersion(trx, current.tenant, current.id, current.version, staged);
  if (!next) throw new ConflictError('The recording changed while it was being redacted; nothing was changed, retry', 'redaction_conflict');
  const redaction = await deps.redactions.insert({
    id: randomUUID(), tenant: current.tenant, recordingId: current.id, version: next.version, ...order, ranges: rangesView(order.ranges),
    previousSha256: current.sha256, previousSizeBytes: current.sizeBytes, previousContentType: current.contentType,
    sha256: next.sha256, sizeBytes: next.sizeBytes, contentType: next.contentType, originalKept: keep,
    requestedBy: by.requestedBy, approvedBy: by.approval ? by.actor.sub : null,
  }, trx);
  if (by.approval) await deps.redactions.attachRedaction(trx, current.tenant, by.approval.requestId, redaction.id);
  if (keep) {
    await deps.redactions.insertOriginal({
      redactionId: redaction.id, tenant: current.tenant, recordingId: current.id, version: current.version, objectKey: current.objectKey,
      sha256: current.sha256, sizeBytes: current.sizeBytes, contentType: current.contentType, segmentSize: current.segmentSize,
      cryptoHeader: current.cryptoHeader, wrappedKey: current.wrappedKey, keyRef: current.keyRef,
    }, trx);
  }
  await supersedeLinks(trx, current.tenant, current.id);
  if (by.approval) {
    await deps.audit.record({
      tenant: redaction.tenant, ...actorFields(by.actor), action: 'redaction.approved', outcome: 'allowed', recordingId: redaction.recordingId,
      details: { requestId: by.approval.requestId, requestedBy: by.requestedBy, redactionId: redaction.id, version: redaction.version, ...(by.approval.note ? { note: by.approval.note } : {}) },
    }, trx);
  }
  await deps.audit.record(redactedEvent(redaction, by), trx);
  return redaction;
}

function redactedEvent(r: Redaction, by: RedactionAuthority): AuditEventInput {
  return {
    tenant: r.tenant, ...actorFields(by.actor), action: 'recording.redacted', outcome: 'allowed', recordingId: r.recordingId,
    details: {
      redactionId: r.id, version: r.version, category: r.category, fill: r.fill, reason: r.reason, ranges: rangesView(r.ranges),
      previousSha256: r.previousSha256, sha256: r.sha256, previousSizeBytes: r.previousSizeBytes, sizeBytes: r.sizeBytes,
      contentType: r.contentType, originalKept: r.originalKept, previousKeyDestroyed: !r.originalKept,
      requestedBy: r.requestedBy, ...(by.approval ? { requestId: by.approval.requestId, approvedBy: r.approvedBy } : {}),
    },
  };
}

/**
 * After the commit: the old data key leaves the cache, the old version's cached peaks are
 * deleted and, unless it is kept sealed, the old
 * object is deleted with every version of it. A failure here leaves ciphertext no key can open
 * any more, which the orphan sweep deletes (audited as orphan.deleted).
 */
async function afterCommit(deps: RedactionDeps, before: Recording, r: Redaction, actor: AuditActor): Promise<void> {
  if (before.wrappedKey && before.keyRef) deps.keyCache.delete(dataKeyCacheKey({ tenant: before.tenant, recordingId: before.id }, before.keyRef, before.wrappedKey));
  // Cached peaks of the old version no longer authenticate (bound to its key and sha256); they go anyway.
  await deps.store.delete(peaksObjectKey(before.tenant, before.id)).catch((err: unknown) => deps.logger?.warn({ err, recordingId: before.id }, 'the old version\'s peaks could not be deleted; they no longer open and are recomputed'));
  if (r.originalKept || !before.objectKey) return;
  let objectDeleted = true;
  try {
    await deps.store.delete(before.objectKey);
  } catch (err) {
    objectDeleted = false;
    deps.logger?.warn({ err, recordingId: before.id }, 'the redacted original could not be deleted now; its key is destroyed and the orphan sweep deletes it');
  }
  await deps.audit.record({
    tenant: r.tenant, ...actorFields(actor), action: 'recording.original_shredded', outcome: 'allowed', recordingId: r.recordingId,
    details: { redactionId: r.id, category: r.category, previousSha256: r.previousSha256, sha256: r.sha256, keyDestroyed: true, objectDeleted },
  }).catch((err: unknown) => deps.logger?.warn({ err, recordingId: before.id }, 'the shredding of a redacted original could not be audited'));
}

/**
 * The staging meters what it stores against MAX_RECORDING_BYTES and says 413; a compressed
 * recording stored redacted as WAV PCM16 can pass it though the request was small: 422, saying so.
 */
function asRedactionFailure(err: unknown, settings: RedactionSettings): unknown {
  if (!(err instanceof PayloadTooLargeError)) return err;
  return new UnprocessableContentError(
    `The redacted recording, stored as WAV PCM16, would be larger than recordings may be (MAX_RECORDING_BYTES, ${settings.maxBytes} bytes)`,
    'redaction_too_large',
  );
}
