import type { Recording } from '../recordings/types.js';
/**
 * Redaction of time ranges in a stored recording (docs/redaction.md). A redaction makes a new
 * version of the recording under a new data key; the category decides the original's fate:
 * `pci` is crypto-shredded, `pii` may be kept sealed when the tenant's policy says so.
 */
export const REDACTION_CATEGORIES = ['pci', 'pii'] as const;
export type RedactionCategory = (typeof REDACTION_CATEGORIES)[number];

export const REDACTION_FILLS = ['silence', 'tone'] as const;
export type RedactionFill = (typeof REDACTION_FILLS)[number];

/** A span of the recording in milliseconds, end exclusive; without `channel` every channel. */
export interface RedactionRange {
  readonly startMs: number;
  readonly endMs: number;
  readonly channel?: number;
}

export interface RedactionOrder {
  readonly ranges: readonly RedactionRange[];
  readonly fill: RedactionFill;
  readonly reason: string;
  readonly category: RedactionCategory;
}

/** One version a redaction made, as stored. */
export interface Redaction extends RedactionOrder {
  readonly id: string;
  readonly tenant: string;
  readonly recordingId: string;
  readonly version: number;
  readonly previousSha256: string;
  readonly previousSizeBytes: number;
  readonly previousContentType: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly contentType: string;
  readonly originalKept: boolean;
  readonly requestedBy: string;
  readonly approvedBy: string | null;
  readonly createdAt: Date;
}

export type RequestStatus = 'pending' | 'approved' | 'refused';

/** A four-eyes request (REDACTION_APPROVAL=required). */
export interface RedactionRequest extends RedactionOrder {
  readonly id: string;
  readonly tenant: string;
  readonly recordingId: string;
  readonly status: RequestStatus;
  readonly requestedBy: string;
  readonly requestedRole: string | null;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly decisionNote: string | null;
  readonly redactionId: string | null;
  readonly createdAt: Date;
}

/** A `pii` original kept sealed: enough to decrypt it, nothing else. */
export interface SealedOriginal extends Pick<Recording, 'tenant' | 'objectKey' | 'sha256' | 'sizeBytes' | 'contentType' | 'segmentSize' | 'cryptoHeader' | 'wrappedKey' | 'keyRef'> {
  readonly redactionId: string;
  readonly recordingId: string;
  /** The version it was before the redaction. */
  readonly version: number;
}

export function rangesView(ranges: readonly RedactionRange[]): RedactionRange[] {
  return ranges.map((r) => ({ startMs: r.startMs, endMs: r.endMs, ...(r.channel === undefined ? {} : { channel: r.channel }) }));
}

export function redactionView(r: Redaction) {
  return {
    id: r.id, recordingId: r.recordingId, version: r.version, category: r.category, fill: r.fill, reason: r.reason,
    ranges: rangesView(r.ranges), sha256: r.sha256, sizeBytes: r.sizeBytes, contentType: r.contentType,
    previousSha256: r.previousSha256, previousSizeBytes: r.previousSizeBytes, previousContentType: r.previousContentType,
    originalKept: r.originalKept, requestedBy: r.requestedBy, approvedBy: r.approvedBy, createdAt: r.createdAt.toISOString(),
  };
}

export function requestView(r: RedactionRequest) {
  return {
    id: r.id, recordingId: r.recordingId, status: r.status, category: r.category, fill: r.fill, reason: r.reason,
    ranges: rangesView(r.ranges), requestedBy: r.requestedBy, requestedRole: r.requestedRole, decidedBy: r.decidedBy,
    decidedAt: r.decidedAt?.toISOString() ?? null, decisionNote: r.decisionNote, redactionId: r.redactionId, createdAt: r.createdAt.toISOString(),
  };
}
