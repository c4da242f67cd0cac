import { PassThrough, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MaskFill } from '../audio/dtmf-fill.js';
import { dtmfMaskStage, type DtmfMaskReport, type MaskedSpan } from '../audio/dtmf-mask.js';
import { createEncryptStream, DEFAULT_SEGMENT_SIZE } from '../crypto/index.js';
import { AppError, BadRequestError, DependencyError } from '../errors.js';
import type { KeyProvider } from '../keys/types.js';
import { AudioSniffer } from './sniff.js';
import { ForkingDigest } from '../lib/forking-digest.js';
import type { ObjectStore } from '../storage/types.js';
import { MeteredBody } from './body.js';
import type { AttemptedBody } from './refusals.js';
import type { UploadLease, UploadRegistry } from '../recordings/uploads-in-progress.js';
import type { ReceivedBody } from '../recordings/types.js';
import type { DtmfPolicy } from '../tenants/store.js';

/**
 * The streaming half of an upload: the body goes through sniffing, hashing and encryption into
 * the object store under a fresh id, or (for a retry of a stored callId) is only hashed. Nothing
 * here deletes an object: the ingest service decides whether a staged object is kept.
 */
export interface StageDeps {
  readonly store: Pick<ObjectStore, 'put'>;
  readonly keys: Pick<KeyProvider, 'generateDataKey'>;
  /** Registers each upload while it streams and commits, for the orphan sweep of every replica. */
  readonly uploads: Pick<UploadRegistry, 'register'>;
}

export interface StageSettings {
  readonly maxBytes: number;
  readonly segmentSize?: number;
  readonly onBytes?: (n: number) => void;
}

/** What the upload holds while it runs: the object it may have written and its registration. */
export interface StagedSlot {
  objectKey: string | null;
  lease: UploadLease | null;
  /** Set once a committed row refers, or may refer, to the object. */
  kept: boolean;
}

/**
 * sha256, sizeBytes and contentType describe what was stored; `received` what the client sent,
 * which differs only when DTMF masking rewrote it (dtmfSpans is then set, possibly empty).
 */
export interface StagedBody extends AttemptedBody {
  readonly contentType: string; readonly segmentSize: number;
  readonly cryptoHeader: Buffer; readonly wrappedKey: Buffer; readonly keyRef: string;
  readonly received: ReceivedBody;
  readonly dtmfSpans: readonly MaskedSpan[] | null;
}

export function objectKeyFor(tenant: string, id: string): string {
  return `recordings/${tenant}/${id}`;
}

/**
 * Writes the body, encrypted under a new data key, to `recordings/<tenant>/<id>`. The upload is
 * registered in `slot` before the object can exist: the sweep must never see it unregistered
 * and uncommitted. `retainUntil` is the Object Lock date the object is written with.
 */
export async function writeEncrypted(
  deps: StageDeps, settings: StageSettings, slot: StagedSlot,
  target: {
    readonly tenant: string; readonly id: string; readonly body: Readable; readonly retainUntil?: Date;
    /** The tenant's own KMS key, if it has one. */
    readonly tenantKmsKeyId: string | null;
    /** Where to write; `recordings/<tenant>/<id>` unless given (a redacted version has its own). */
    readonly objectKey?: string;
    /** mask: key presses are silenced before encryption (src/audio/dtmf-mask.ts); keep when absent. */
    readonly dtmf?: DtmfPolicy;
    /** What masked spans are filled with; silence when absent. */
    readonly dtmfFill?: MaskFill;
  },
): Promise<StagedBody> {
  const { tenant, id } = target;
  const dataKey = await deps.keys.generateDataKey({ tenant, recordingId: id }, target.tenantKmsKeyId ? { masterKeyId: target.tenantKmsKeyId } : undefined);
  const segmentSize = settings.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const sniffer = new AudioSniffer({ highWaterMark: STAGE_BUFFER_BYTES });
  const masking = target.dtmf === 'mask' ? new MaskingStages(() => sniffer.contentType, target.dtmfFill) : null;
  const meter = new MeteredBody(settings.maxBytes, settings.onBytes, STAGE_BUFFER_BYTES, !masking);
  const encrypt = createEncryptStream({ key: dataKey.plaintext, recordingId: id, segmentSize, highWaterMark: STAGE_BUFFER_BYTES });
  try {
    slot.objectKey = target.objectKey ?? objectKeyFor(tenant, id);
    slot.lease = await deps.uploads.register(slot.objectKey, tenant, id);
    await Promise.all([
      masking
        ? pipeline(detach(target.body), sniffer, meter, masking.mask, encrypt)
        : pipeline(detach(target.body), sniffer, meter, encrypt),
      deps.store.put(slot.objectKey, encrypt, target.retainUntil ? { retainUntil: target.retainUntil } : undefined),
    ]);
  } catch (err) {
    encrypt.destroy();
    throw uploadFailure(err);
  } finally {
    dataKey.plaintext.fill(0);
  }
  const contentType = sniffer.contentType ?? 'application/octet-stream';
  const crypto = { segmentSize, cryptoHeader: encrypt.header, wrappedKey: dataKey.wrapped, keyRef: dataKey.keyRef };
  if (!masking) {
    const received = { sha256: meter.digestHex(), sizeBytes: meter.bytes, contentType };
    return { ...received, ...crypto, received, dtmfSpans: null };
  }
  const { digest, report } = masking;
  const received = { sha256: digest.receivedHex(), sizeBytes: meter.bytes, contentType };
  return {
    sha256: digest.storedHex(), sizeBytes: digest.storedBytes, contentType: report.contentType ?? contentType,
    ...crypto, received, dtmfSpans: report.spans,
  };
}

/**
 * DTMF masking between the received bytes and encryption. The stage tells the digest what it
 * received and what it passes on, so that both are hashed, and bytes that are the same in both
 * (everything before the first masked key) only once. A transcoded recording may be larger than
 * what was received: the size limit applies to the upload, the stored size follows from it.
 */
class MaskingStages {
  readonly report: DtmfMaskReport = { contentType: null, transcoded: false, spans: [] };
  readonly digest = new ForkingDigest();
  readonly mask: (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>;

  constructor(contentType: () => string | null, fill: MaskFill = 'silence') {
    this.mask = dtmfMaskStage(contentType, this.report, fill, this.digest);
  }
}

/**
 * A retried upload of a callId that already exists: the body is hashed (and size-limited and
 * sniffed) but neither encrypted nor stored, and no data key is requested.
 */
export async function hashOnly(settings: StageSettings, body: Readable): Promise<AttemptedBody> {
  const sniffer = new AudioSniffer();
  const meter = new MeteredBody(settings.maxBytes, settings.onBytes);
  try {
    await pipeline(detach(body), sniffer, meter, new Writable({ write: (_c, _e, cb) => cb() }));
  } catch (err) {
    throw uploadFailure(err);
  }
  return { sha256: meter.digestHex(), sizeBytes: meter.bytes };
}

/** An empty body, or one whose digest is not the one the client sent, is refused (400). */
export function checkBody(body: AttemptedBody, expectedSha256: string | null): void {
  if (body.sizeBytes === 0) throw new BadRequestError('The recording body is empty', 'empty_body');
  if (expectedSha256 && expectedSha256 !== body.sha256) {
    throw new BadRequestError('The body does not match the SHA-256 digest sent with it; nothing was stored', 'digest_mismatch');
  }
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
