import type { MaskedSpan } from '../audio/dtmf-mask.js';
import type { RecordingStatus } from './status.js';

export type { RecordingStatus };
export type Direction = 'inbound' | 'outbound' | 'internal';

/** What the PBX says about the call; immutable once the recording is stored. */
export interface CallMetadata {
  readonly startedAt: Date | null;
  readonly durationSeconds: number | null;
  readonly direction: Direction | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly agentId: string | null;
  readonly tags: readonly string[];
}

/** A recording as the vault knows it. Crypto fields are absent from every API representation. */
export interface Recording extends CallMetadata {
  readonly id: string;
  readonly tenant: string;
  readonly callId: string;
  readonly status: RecordingStatus;
  readonly objectKey: string | null;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly contentType: string;
  readonly segmentSize: number | null;
  readonly cryptoHeader: Buffer | null;
  readonly wrappedKey: Buffer | null;
  readonly keyRef: string | null;
  readonly policy: string | null;
  readonly retainUntil: Date | null;
  readonly uploadedBy: string | null;
  readonly legalHold: boolean;
  readonly legalHoldReason: string | null;
  readonly legalHoldCaseId: string | null;
  readonly createdAt: Date;
  readonly deletedAt: Date | null;
  readonly deletionReason: string | null;
  /** 1 as uploaded; each redaction makes the next (src/redaction). */
  readonly version: number;
  /** When the current version replaced a redacted one; links issued before it are gone (410). */
  readonly redactedAt: Date | null;
  /** What the PBX sent, when DTMF masking stored something else (sha256 and size above are the stored media's). */
  readonly received: ReceivedBody | null;
  /** The spans DTMF masking silenced at ingest; null when the tenant keeps key presses. */
  readonly dtmfSpans: readonly MaskedSpan[] | null;
}

export interface ReceivedBody { readonly sha256: string; readonly sizeBytes: number; readonly contentType: string }

/** On a receipt of a recording masked at ingest: what was silenced, and what was received. */
export interface DtmfReceipt {
  readonly spans: readonly MaskedSpan[];
  readonly received: ReceivedBody;
  /** The recording was decoded (MP3, Ogg/Opus) and is stored as WAV PCM16. */
  readonly transcoded: boolean;
}

export interface Receipt {
  readonly id: string;
  readonly callId: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly contentType: string;
  readonly policy: string | null;
  readonly retainUntil: string | null;
  readonly createdAt: string;
  readonly legalHold: boolean;
  readonly version: number;
  readonly dtmf?: DtmfReceipt;
}

/** The call metadata as the API shows it: times as ISO-8601 strings. */
type CallMetadataView = Omit<CallMetadata, 'startedAt'> & { readonly startedAt: string | null };

export interface RecordingView extends Receipt, CallMetadataView {
  readonly legalHoldReason?: string | null;
  readonly legalHoldCaseId?: string | null;
}

export function toReceipt(r: Recording): Receipt {
  return {
    id: r.id, callId: r.callId, sha256: r.sha256, sizeBytes: r.sizeBytes, contentType: r.contentType,
    policy: r.policy, retainUntil: r.retainUntil?.toISOString() ?? null, createdAt: r.createdAt.toISOString(), legalHold: r.legalHold,
    version: r.version,
    ...(r.dtmfSpans && r.received ? { dtmf: dtmfReceipt(r.dtmfSpans, r.received, r.contentType) } : {}),
  };
}

export function dtmfReceipt(spans: readonly MaskedSpan[], received: ReceivedBody, storedType: string): DtmfReceipt {
  return { spans, received, transcoded: received.contentType !== storedType };
}

export function toView(r: Recording): RecordingView {
  return {
    ...toReceipt(r),
    startedAt: r.startedAt?.toISOString() ?? null, durationSeconds: r.durationSeconds, direction: r.direction,
    from: r.from, to: r.to, agentId: r.agentId, tags: r.tags,
    ...(r.legalHold ? { legalHoldReason: r.legalHoldReason, legalHoldCaseId: r.legalHoldCaseId } : {}),
  };
}
