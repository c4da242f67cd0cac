import type { AuditLog } from '../audit/types.js';
import type { Config } from '../config/config.js';
import type { Trx } from '../db/knex.js';
import type { Logger } from '../http/logger.js';
import type { Metrics } from '../http/metrics.js';
import type { DataKeyCache } from '../keys/cache.js';
import type { RecordingStore } from '../recordings/store.js';
import type { UploadRegistry } from '../recordings/uploads-in-progress.js';
import type { ObjectStore } from '../storage/types.js';

/** Runs `fn` in one database transaction (knex's `db.transaction(fn)`). */
export interface Transactor {
  transaction<T>(fn: (trx: Trx) => Promise<T>): Promise<T>;
}

/** What deleting recordings needs; the composition root's Deps satisfies it. */
export interface DeletionDeps {
  readonly db: Transactor;
  readonly recordings: Pick<RecordingStore, 'destroyKeys' | 'tombstone'>;
  readonly store: Pick<ObjectStore, 'delete'>;
  readonly audit: Pick<AuditLog, 'record' | 'recordMany'>;
  readonly keyCache?: Pick<DataKeyCache, 'delete'>;
  readonly logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
}

/** The recordings table as a retention pass and the orphan sweep use it. */
export type RetentionRecordings = Pick<RecordingStore,
  'destroyKeys' | 'tombstone' | 'holdClaimLiveness' | 'claimDue' | 'reclaimAbandoned' | 'stillClaimed'
  | 'listDue' | 'countHeldDue' | 'oldestOverdue' | 'referencedObjectKeys'>;

export interface RetentionDeps extends DeletionDeps {
  /** liveRecordings: the orphan sweep's pass over peaks objects (peaks-sweep.ts). */
  readonly recordings: RetentionRecordings & Pick<RecordingStore, 'liveRecordings'>;
  readonly store: Pick<ObjectStore, 'delete' | 'list' | 'sweepTempFiles'>;
  /** Uploads still streaming or committing on some replica: the orphan sweep leaves them alone. */
  readonly uploads: Pick<UploadRegistry, 'live' | 'dropExpired' | 'purgeExpired'>;
  readonly metrics?: Pick<Metrics, 'retentionDeleted' | 'retentionSkippedHold' | 'retentionFailed' | 'retentionLag'>;
  readonly config: { readonly retention: Config['retention'] };
}

export const SYSTEM_RETENTION_ACTOR = 'system:retention';
