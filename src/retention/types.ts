import type { AuditLog } from '../audit/types.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/knex.js';
import type { Logger } from '../http/logger.js';
import type { Metrics } from '../http/metrics.js';
import type { DataKeyCache } from '../keys/cache.js';
import type { UploadRegistry } from '../recordings/uploads-in-progress.js';
import type { ObjectStore } from '../storage/types.js';

/** What deleting recordings needs; the composition root's Deps satisfies it. */
export interface DeletionDeps {
  readonly db: Db;
  readonly store: Pick<ObjectStore, 'delete'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly keyCache?: Pick<DataKeyCache, 'delete'>;
  readonly logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
}

export interface RetentionDeps extends DeletionDeps {
  readonly store: Pick<ObjectStore, 'delete' | 'list' | 'sweepTempFiles'>;
  /** Uploads still streaming or committing on some replica: the orphan sweep leaves them alone. */
  readonly uploads: Pick<UploadRegistry, 'live' | 'dropExpired' | 'purgeExpired'>;
  readonly metrics?: Pick<Metrics, 'retentionDeleted' | 'retentionSkippedHold' | 'retentionFailed' | 'retentionLag'>;
  readonly config: { readonly retention: Config['retention'] };
}

export type DeletionKind = 'retention' | 'erasure';

/** A row a deletion worker (or an erasure request) has claimed: status 'deleting', leased to it. */
export interface ClaimedRecording {
  readonly id: string;
  readonly tenant: string;
  readonly callId: string;
  readonly objectKey: string | null;
  readonly sha256: string;
  readonly keyRef: string | null;
  readonly wrappedKey: Buffer | null;
  readonly policy: string | null;
  readonly retainUntil: Date | null;
  readonly kind: DeletionKind;
  readonly note: string | null;
  readonly requestedBy: string | null;
}

export interface ClaimedRow {
  id: string; tenant: string; call_id: string; object_key: string | null; sha256: string; key_ref: string | null;
  wrapped_key: Buffer | null; policy: string | null; retain_until: Date | null; deletion_reason: string | null;
  deletion_note: string | null; deleted_by: string | null;
}

export const CLAIMED_COLUMNS = [
  'id', 'tenant', 'call_id', 'object_key', 'sha256', 'key_ref', 'wrapped_key', 'policy', 'retain_until',
  'deletion_reason', 'deletion_note', 'deleted_by',
] as const;

export function mapClaimed(row: ClaimedRow): ClaimedRecording {
  return {
    id: row.id, tenant: row.tenant, callId: row.call_id, objectKey: row.object_key, sha256: row.sha256, keyRef: row.key_ref,
    wrappedKey: row.wrapped_key, policy: row.policy, retainUntil: row.retain_until,
    kind: row.deletion_reason === 'erasure' ? 'erasure' : 'retention', note: row.deletion_note, requestedBy: row.deleted_by,
  };
}

/** Who owns a claim: a name for people, and the advisory-lock key that proves the owner is alive. */
export interface ClaimOwner {
  readonly owner: string;
  /** Null for claims that only a lease protects (erasure requests). */
  readonly key: number | null;
}

export const SYSTEM_RETENTION_ACTOR = 'system:retention';
