import type { Knex } from 'knex';

export const AUDIT_ACTIONS = [
  'recording.uploaded', 'recording.listed', 'recording.viewed', 'link.issued', 'link.revoked', 'media.read',
  'legal_hold.set', 'legal_hold.cleared', 'recording.deleted', 'policy.updated', 'audit.exported', 'keys.rotated',
  'auth.denied', 'anomaly.download_rate', 'audit.denied_suppressed', 'orphan.deleted', 'audit.anchored',
  'media.peaks',
  'console.signed_in', 'console.signed_out', 'console.session_expired',
  'recording.redacted', 'recording.original_shredded', 'redaction.requested', 'redaction.approved', 'redaction.refused',
  'redaction.original_read', 'redaction.settings_updated',
  'download.issued', 'media.downloaded', 'download.settings_updated',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_OUTCOMES = ['allowed', 'denied', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** prevHash of the first event (seq 1): 32 zero bytes, hex. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEventInput {
  tenant: string | null;
  actorSub: string;
  actorRole: string | null;
  action: AuditAction;
  outcome: AuditOutcome;
  recordingId?: string | null;
  linkId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** One row of the chain. Hashes are lower-case hex SHA-256; `at` has millisecond precision. */
export interface AuditEvent {
  seq: number;
  at: Date;
  tenant: string | null;
  actorSub: string;
  actorRole: string | null;
  action: string;
  outcome: string;
  recordingId: string | null;
  linkId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * One event of a per-tenant (or the system) log. `log` is the log's origin; `logSeq` runs
 * 1, 2, 3, … without gaps within it; `recordingPrev` is the logSeq of the previous event of the
 * same log about the same recording (null when none, or when recordingId is null). `seq` is the
 * global storage order and part of no hash.
 */
export interface LogEvent extends Omit<AuditEvent, 'seq'> {
  seq: number;
  log: string;
  logSeq: number;
  recordingPrev: number | null;
}

export interface AuditLog {
  /**
   * Resolves only once the event is durable (committed). With trx, the event is inserted inside
   * that transaction (durable when it commits; the caller's commit is the point of no return).
   * Rejects with DependencyError('audit', …) when it cannot be written.
   */
  record(event: AuditEventInput, trx?: Knex.Transaction): Promise<void>;
  /**
   * Many events inside `trx`, in order, under one chain lock and one head read: they commit, or
   * vanish, with the caller's transaction as a whole. Rejects like record().
   */
  recordMany(events: readonly AuditEventInput[], trx: Knex.Transaction): Promise<void>;
  /**
   * Denied attempts: rate-capped per source (ip or sub); dropped ones are counted and summarised
   * later in one 'audit.denied_suppressed' event. Never throws (a denied request is refused
   * anyway); failures are counted.
   */
  recordDenied(event: AuditEventInput, source: string): Promise<void>;
}

/** Counters the audit writer reports; the HTTP layer backs them with prom-client. */
export interface AuditMetrics {
  /** n events became durable. */
  written(n: number): void;
  /** One event could not be written. */
  failed(): void;
  /** One denied-attempt event was dropped by the per-source cap. */
  deniedDropped(): void;
}

/** A signed statement that the chain had `hash` at `seq` no later than `at`. */
export interface Anchor {
  seq: number;
  hash: string;
  /** RFC 3339 UTC with milliseconds, when the anchor was signed. */
  at: string;
  /** Base64 Ed25519 signature, see docs/audit.md. */
  signature: string;
  /** Hex SHA-256 of the public key's SPKI DER encoding. */
  keyId: string;
  /** Where the anchor was read from (object key or file path); not signed. */
  source?: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Events whose hash was recomputed. */
  checked: number;
  /** Anchors whose seq and hash matched an event that was checked. */
  anchorsMatched: number;
  /** Seq of the last event checked (0 when none). */
  lastSeq: number;
  /** The first seq at which the log is wrong, missing or unreadable. */
  firstBadSeq?: number;
  reason?: string;
}
