import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AuditLog } from '../audit/types.js';
import { addDuration } from '../config/duration.js';
import { createEncryptStream, DEFAULT_SEGMENT_SIZE } from '../crypto/index.js';
import type { Db, Trx } from '../db/knex.js';
import { AppError, BadRequestError, DependencyError } from '../errors.js';
import type { KeyProvider } from '../keys/types.js';
import type { KeyVersionStore } from '../keys/versions.js';
import { AudioSniffer } from '../media/sniff.js';
import type { PolicyStore } from '../retention/policy-store.js';
import type { ObjectStore } from '../storage/types.js';
import type { TenantStore } from '../tenants/store.js';
import { checkRetentionOpen, checkStartedAt } from './arrival.js';
import { MeteredBody } from './body.js';
import { lookUpCommitOutcome } from './commit-outcome.js';
import type { UploadMetadata } from './metadata.js';
import type { PhoneHasher } from './phone.js';
import { sameOrConflict, type AttemptedBody } from './refusals.js';
import type { RecordingStore } from './store.js';
import type { UploadLease, UploadRegistry } from './uploads-in-progress.js';
import type { Recording } from './types.js';

/**
 * Upload in two phases. `stage` streams the body through sniffing, hashing and encryption into
 * the object store under a fresh id; nothing refers to that object yet. `commit` then inserts the
 * row (with the wrapped key) and its audit event in one transaction. A failure before the commit
 * leaves at most an unreferenced object, which is deleted at once or by the orphan sweep; a
 * recording therefore becomes visible only when both its object and its row are durable. A
 * failure during COMMIT is not a failure until a lookup says so: the object is deleted only once
 * it is known that no committed row refers to it.
 */
export interface IngestDeps {
  readonly db: Db;
  readonly recordings: Pick<RecordingStore, 'insert' | 'findByCallId'>;
  readonly store: Pick<ObjectStore, 'put' | 'delete'>;
  readonly keys: Pick<KeyProvider, 'generateDataKey'>;
  /** The commit refuses a data key whose master key version is being retired (src/keys/versions.ts). */
  readonly keyVersions: Pick<KeyVersionStore, 'assertCommittable'>;
  /** Registers each upload while it streams and commits, for the orphan sweep of every replica. */
  readonly uploads: Pick<UploadRegistry, 'register' | 'renew' | 'finish' | 'release'>;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly policies: Pick<PolicyStore, 'resolve'>;
  readonly phones: PhoneHasher;
  /** recordDenied: refused attempts to overwrite a callId are audited (ingest-routes.ts). */
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  readonly maxBytes: number;
  /** How far ahead of the vault's clock a startedAt may be (RECORDING_MAX_CLOCK_SKEW). */
  readonly maxClockSkewMs: number;
  /** How long to look for the outcome of a COMMIT whose reply was lost (commit-outcome.ts). */
  readonly commitOutcomeWaitMs: number;
  readonly segmentSize?: number;
  readonly onBytes?: (n: number) => void;
  /** Objects are written under S3 Object Lock with retain-until = the recording's retainUntil. */
  readonly objectLock?: boolean;
}

export interface StagedRecording {
  readonly id: string; readonly tenant: string; readonly objectKey: string; readonly sha256: string;
  readonly sizeBytes: number; readonly contentType: string; readonly segmentSize: number;
  readonly cryptoHeader: Buffer; readonly wrappedKey: Buffer; readonly keyRef: string;
  /** The Object Lock retain-until the object was written with; null without Object Lock. */
  readonly lockedUntil: Date | null;
  /** The upload's registration (uploads-in-progress.ts), renewed until the commit or discard. */
  readonly lease: UploadLease;
}

/** The policy and retainUntil an upload gets: its `policy` parameter, else the tenant default. */
export interface UploadRetention { readonly policy: string; readonly retainUntil: Date }

/** Refuses a startedAt too far ahead (400) and a window that closed before arrival (422): see arrival.ts. */
export async function resolveRetention(deps: Pick<IngestDeps, 'policies' | 'maxClockSkewMs'>, tenant: string, meta: Pick<UploadMetadata, 'policy' | 'startedAt'>, now = new Date(), trx?: Trx): Promise<UploadRetention> {
  checkStartedAt(meta.startedAt, now, deps.maxClockSkewMs);
  const policy = await deps.policies.resolve(tenant, meta.policy, trx);
  const retainUntil = addDuration(meta.startedAt ?? now, policy.retain);
  checkRetentionOpen(retainUntil, policy.name, now);
  return { policy: policy.name, retainUntil };
}

export interface Actor { readonly sub: string; readonly role: string; readonly ip: string; readonly userAgent: string | null; readonly requestId: string }

export function objectKeyFor(tenant: string, id: string): string {
  return `recordings/${tenant}/${id}`;
}

/**
 * `retention` is resolved before the body is read so that, under S3 Object Lock, the object is
 * written with its retain-until date in the same request that stores it.
 */
export async function stageRecording(deps: IngestDeps, tenant: string, body: Readable, expectedSha256: string | null, retention?: UploadRetention): Promise<StagedRecording> {
  const id = randomUUID();
  const objectKey = objectKeyFor(tenant, id);
  const settings = await deps.tenants.get(tenant);
  const dataKey = await deps.keys.generateDataKey({ tenant, recordingId: id }, settings.kmsKeyId ? { masterKeyId: settings.kmsKeyId } : undefined);
  const segmentSize = deps.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const sniffer = new AudioSniffer({ highWaterMark: STAGE_BUFFER_BYTES });
  const meter = new MeteredBody(deps.maxBytes, deps.onBytes, STAGE_BUFFER_BYTES);
  const encrypt = createEncryptStream({ key: dataKey.plaintext, recordingId: id, segmentSize, highWaterMark: STAGE_BUFFER_BYTES });
  let lease: UploadLease | undefined;
  try {
    // Before the object can exist: the sweep must never see it unregistered and uncommitted.
    lease = await deps.uploads.register(objectKey, tenant, id);
    await Promise.all([
      pipeline(detach(body), sniffer, meter, encrypt),
      deps.store.put(objectKey, encrypt, retention ? { retainUntil: retention.retainUntil } : undefined),
    ]);
  } catch (err) {
    encrypt.destroy();
    await discardStaged(deps, { objectKey, lease });
    throw uploadFailure(err);
  } finally {
    dataKey.plaintext.fill(0);
  }
  const staged: StagedRecording = {
    id, tenant, objectKey, sha256: meter.digestHex(), sizeBytes: meter.bytes, contentType: sniffer.contentType ?? 'application/octet-stream',
    segmentSize, cryptoHeader: encrypt.header, wrappedKey: dataKey.wrapped, keyRef: dataKey.keyRef,
    lockedUntil: deps.objectLock && retention ? retention.retainUntil : null, lease,
  };
  const problem = meter.bytes === 0 ? new BadRequestError('The recording body is empty', 'empty_body')
    : expectedSha256 && expectedSha256 !== staged.sha256 ? new BadRequestError('The body does not match the SHA-256 digest sent with it; nothing was stored', 'digest_mismatch')
      : null;
  if (problem) {
    await discardStaged(deps, staged);
    throw problem;
  }
  return staged;
}

/** Deletes the object, then its registration: an object left behind by a failed delete is the sweep's. */
export async function discardStaged(deps: Pick<IngestDeps, 'store' | 'uploads'>, staged: { readonly objectKey: string; readonly lease?: UploadLease }): Promise<void> {
  staged.lease?.stop();
  await deps.store.delete(staged.objectKey).catch(() => undefined);
  await deps.uploads.release(staged.objectKey).catch(() => undefined);
}

export interface CommitResult { readonly created: boolean; readonly recording: Recording }

/**
 * `retention` is what staging resolved from the same metadata (PUT); a multipart upload passes
 * none, because fields sent after its file may name another policy or start time. The staged
 * object is discarded only when it is known that no row refers to it (commit-outcome.ts).
 */
export async function commitRecording(deps: IngestDeps, staged: StagedRecording, callId: string, meta: UploadMetadata, actor: Actor, retention?: UploadRetention): Promise<CommitResult> {
  let result: CommitResult;
  let committing = false;
  try {
    // The database may have restarted while the body streamed, taking this process's liveness lock.
    await deps.uploads.renew(staged.objectKey);
    result = await deps.db.transaction(async (trx) => {
      await deps.keyVersions.assertCommittable(staged.keyRef, trx);
      if (!(await deps.uploads.finish(staged.objectKey, trx))) {
        throw new DependencyError('database', 'The upload\'s registration lapsed before its commit (the vault could not renew it); nothing was kept, retry the upload');
      }
      const resolved = retention ?? await resolveRetention(deps, staged.tenant, meta, new Date(), trx);
      const inserted = await deps.recordings.insert({
        ...staged, callId, policy: resolved.policy, retainUntil: retainUntilFor(staged, resolved.retainUntil),
        startedAt: meta.startedAt, durationSeconds: meta.durationSeconds, direction: meta.direction, from: meta.from, to: meta.to,
        fromHash: meta.from ? deps.phones.hash(meta.from) : null, toHash: meta.to ? deps.phones.hash(meta.to) : null,
        agentId: meta.agentId, tags: meta.tags, uploadedBy: actor.sub,
      }, trx);
      if (!inserted) return { created: false, recording: await existingOrThrow(deps, staged.tenant, callId, staged) };
      await deps.audit.record(uploadEvent(inserted, actor, { created: true }), trx);
      // From here on a failure may come after PostgreSQL committed: only a lookup can tell.
      committing = true;
      return { created: true, recording: inserted };
    });
  } catch (err) {
    if (committing) return settleUnansweredCommit(deps, staged, callId, err);
    await discardStaged(deps, staged);
    throw err instanceof AppError ? err : new DependencyError('database', 'The recording could not be committed; nothing was kept', err);
  } finally {
    staged.lease.stop();
  }
  if (!result.created) await discardStaged(deps, staged);
  return result;
}

/** Lookup throws a 503 when it cannot tell: the object is then kept, since a row may refer to it. */
async function settleUnansweredCommit(deps: IngestDeps, staged: StagedRecording, callId: string, cause: unknown): Promise<CommitResult> {
  const found = await lookUpCommitOutcome(deps, staged.tenant, callId, cause);
  if (found?.id === staged.id) return { created: true, recording: found };
  await discardStaged(deps, staged);
  if (found) return { created: false, recording: sameOrConflict(found, staged) };
  throw new DependencyError('database', 'The recording could not be committed; nothing was kept', cause);
}

/**
 * A multipart upload may send its metadata after the file, so the retainUntil computed at commit
 * can differ from the Object Lock date the object was written with. The later of the two is
 * kept: the vault must never try to delete an object whose lock is still running, nor before
 * its policy allows.
 */
function retainUntilFor(staged: StagedRecording, computed: Date): Date {
  return staged.lockedUntil && staged.lockedUntil > computed ? staged.lockedUntil : computed;
}

/**
 * A retried upload of a callId that already exists: the body is hashed (and size-limited and
 * sniffed) but neither encrypted nor stored, and no data key is requested.
 */
export async function replayUpload(deps: IngestDeps, existing: Recording, body: Readable, expectedSha256: string | null): Promise<Recording> {
  const sniffer = new AudioSniffer();
  const meter = new MeteredBody(deps.maxBytes, deps.onBytes);
  try {
    await pipeline(detach(body), sniffer, meter, new Writable({ write: (_c, _e, cb) => cb() }));
  } catch (err) {
    throw uploadFailure(err);
  }
  if (meter.bytes === 0) throw new BadRequestError('The recording body is empty', 'empty_body');
  const sha = meter.digestHex();
  if (expectedSha256 && expectedSha256 !== sha) throw new BadRequestError('The body does not match the SHA-256 digest sent with it; nothing was stored', 'digest_mismatch');
  return sameOrConflict(existing, { sha256: sha, sizeBytes: meter.bytes });
}

async function existingOrThrow(deps: Pick<IngestDeps, 'recordings'>, tenant: string, callId: string, attempted: AttemptedBody): Promise<Recording> {
  const existing = await deps.recordings.findByCallId(tenant, callId);
  if (!existing) throw new DependencyError('database', 'The recording row vanished during the upload; retry');
  return sameOrConflict(existing, attempted);
}

export function uploadEvent(r: Recording, actor: Actor, details: Record<string, unknown>) {
  return {
    tenant: r.tenant, actorSub: actor.sub, actorRole: actor.role, action: 'recording.uploaded' as const, outcome: 'allowed' as const,
    recordingId: r.id, ip: actor.ip, userAgent: actor.userAgent, requestId: actor.requestId,
    details: { callId: r.callId, sha256: r.sha256, sizeBytes: r.sizeBytes, contentType: r.contentType, policy: r.policy, ...details },
  };
}

/**
 * What each stage of the upload pipeline may hold before it pushes back: a few 16 KiB TLS records
 * and more than one 64 KiB segment, so that a stage never stalls the one before it for a single
 * record while the next is busy (bench/NOTES.md). Per upload this bounds memory at a few stages
 * times this, whatever the recording's size.
 */
const STAGE_BUFFER_BYTES = 256 * 1024;

/**
 * The request is piped rather than handed to pipeline(): pipeline destroys every stream on
 * failure, and destroying the request would close the socket before the client could read our
 * 4xx answer.
 */
function detach(body: Readable): Readable {
  const out = new PassThrough({ highWaterMark: STAGE_BUFFER_BYTES });
  const truncated = (): void => {
    if (!out.writableFinished) out.destroy(new BadRequestError('The request body ended before it was complete; nothing was stored', 'truncated_body'));
  };
  body.once('error', truncated);
  body.once('aborted', truncated);
  body.once('close', () => {
    if ((body as Readable & { complete?: boolean }).complete === false) truncated();
  });
  // The body may have died while the caller awaited the database or the key service: its
  // 'error' and 'close' are then past, and piping it would wait for bytes that never come.
  if (body.destroyed) truncated();
  else body.pipe(out);
  return out;
}

/** Client-side faults keep their status; a body that stopped mid-way is the client's fault too. */
function uploadFailure(err: unknown): Error {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED' || (err as Error)?.message === 'aborted') {
    return new BadRequestError('The request body ended before it was complete; nothing was stored', 'truncated_body');
  }
  return new DependencyError('storage', 'The recording could not be stored; nothing was kept', err);
}
