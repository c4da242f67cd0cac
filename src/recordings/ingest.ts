import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AuditLog } from '../audit/types.js';
import { addDuration } from '../config/duration.js';
import { createEncryptStream, DEFAULT_SEGMENT_SIZE } from '../crypto/index.js';
import type { Db, Trx } from '../db/knex.js';
import { AppError, BadRequestError, ConflictError, DependencyError } from '../errors.js';
import type { KeyProvider } from '../keys/types.js';
import { AudioSniffer } from '../media/sniff.js';
import type { PolicyStore } from '../retention/policy-store.js';
import type { ObjectStore } from '../storage/types.js';
import type { TenantStore } from '../tenants/store.js';
import { MeteredBody } from './body.js';
import type { UploadMetadata } from './metadata.js';
import type { PhoneHasher } from './phone.js';
import type { RecordingStore } from './store.js';
import type { Recording } from './types.js';

/**
 * Upload in two phases. `stage` streams the body through sniffing, hashing and encryption into
 * the object store under a fresh id; nothing refers to that object yet. `commit` then inserts the
 * row (with the wrapped key) and its audit event in one transaction. A failure before the commit
 * leaves at most an unreferenced object, which is deleted at once or by the orphan sweep; a
 * recording therefore becomes visible only when both its object and its row are durable.
 */
export interface IngestDeps {
  readonly db: Db;
  readonly recordings: Pick<RecordingStore, 'insert' | 'findByCallId'>;
  readonly store: Pick<ObjectStore, 'put' | 'delete'>;
  readonly keys: Pick<KeyProvider, 'generateDataKey'>;
  readonly tenants: Pick<TenantStore, 'get'>;
  readonly policies: Pick<PolicyStore, 'resolve'>;
  readonly phones: PhoneHasher;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly maxBytes: number;
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
}

/** The policy and retainUntil an upload gets: its `policy` parameter, else the tenant default. */
export interface UploadRetention { readonly policy: string; readonly retainUntil: Date }

export async function resolveRetention(deps: Pick<IngestDeps, 'policies'>, tenant: string, meta: Pick<UploadMetadata, 'policy' | 'startedAt'>, now = new Date(), trx?: Trx): Promise<UploadRetention> {
  const policy = await deps.policies.resolve(tenant, meta.policy, trx);
  return { policy: policy.name, retainUntil: addDuration(meta.startedAt ?? now, policy.retain) };
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
  try {
    await Promise.all([
      pipeline(detach(body), sniffer, meter, encrypt),
      deps.store.put(objectKey, encrypt, retention ? { retainUntil: retention.retainUntil } : undefined),
    ]);
  } catch (err) {
    encrypt.destroy();
    await deps.store.delete(objectKey).catch(() => undefined);
    throw uploadFailure(err);
  } finally {
    dataKey.plaintext.fill(0);
  }
  const staged: StagedRecording = {
    id, tenant, objectKey, sha256: meter.digestHex(), sizeBytes: meter.bytes, contentType: sniffer.contentType ?? 'application/octet-stream',
    segmentSize, cryptoHeader: encrypt.header, wrappedKey: dataKey.wrapped, keyRef: dataKey.keyRef,
    lockedUntil: deps.objectLock && retention ? retention.retainUntil : null,
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

export async function discardStaged(deps: Pick<IngestDeps, 'store'>, staged: Pick<StagedRecording, 'objectKey'>): Promise<void> {
  await deps.store.delete(staged.objectKey).catch(() => undefined);
}

export interface CommitResult { readonly created: boolean; readonly recording: Recording }

/**
 * `retention` is what staging resolved from the same metadata (PUT); a multipart upload passes
 * none, because fields sent after its file may name another policy or start time.
 */
export async function commitRecording(deps: IngestDeps, staged: StagedRecording, callId: string, meta: UploadMetadata, actor: Actor, retention?: UploadRetention): Promise<CommitResult> {
  let result: CommitResult;
  try {
    result = await deps.db.transaction(async (trx) => {
      const resolved = retention ?? await resolveRetention(deps, staged.tenant, meta, new Date(), trx);
      const inserted = await deps.recordings.insert({
        ...staged, callId, policy: resolved.policy, retainUntil: retainUntilFor(staged, resolved.retainUntil),
        startedAt: meta.startedAt, durationSeconds: meta.durationSeconds, direction: meta.direction, from: meta.from, to: meta.to,
        fromHash: meta.from ? deps.phones.hash(meta.from) : null, toHash: meta.to ? deps.phones.hash(meta.to) : null,
        agentId: meta.agentId, tags: meta.tags, uploadedBy: actor.sub,
      }, trx);
      if (!inserted) return { created: false, recording: await existingOrThrow(deps, staged.tenant, callId, staged.sha256) };
      await deps.audit.record(uploadEvent(inserted, actor, { created: true }), trx);
      return { created: true, recording: inserted };
    });
  } catch (err) {
    await discardStaged(deps, staged);
    throw err instanceof AppError ? err : new DependencyError('database', 'The recording could not be committed; nothing was kept', err);
  }
  if (!result.created) await discardStaged(deps, staged);
  return result;
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
  return sameOrConflict(existing, sha);
}

async function existingOrThrow(deps: Pick<IngestDeps, 'recordings'>, tenant: string, callId: string, sha256: string): Promise<Recording> {
  const existing = await deps.recordings.findByCallId(tenant, callId);
  if (!existing) throw new DependencyError('database', 'The recording row vanished during the upload; retry');
  return sameOrConflict(existing, sha256);
}

function sameOrConflict(existing: Recording, sha256: string): Recording {
  if (existing.status !== 'active') throw new ConflictError('This callId belonged to a recording that has been deleted', 'recording_deleted');
  if (existing.sha256 !== sha256) throw new ConflictError('A different recording was already uploaded under this callId', 'call_id_conflict');
  return existing;
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
