import type { AuditLog } from '../audit/types.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/knex.js';
import type { Logger } from '../http/logger.js';
import type { DataKeyCache } from '../keys/cache.js';
import type { PhoneHasher } from '../recordings/phone.js';
import type { RecordingStore } from '../recordings/store.js';
import type { ObjectStore } from '../storage/types.js';

/** What the legal-hold and erasure services need; the composition root's Deps satisfies it. */
export interface GovernanceDeps {
  readonly db: Db;
  readonly recordings: Pick<RecordingStore, 'destroyKeys' | 'tombstone'>;
  /** `objectLock`: objects are written under S3 Object Lock, so legal holds are mirrored onto them. */
  readonly store: Pick<ObjectStore, 'delete' | 'setLegalHold' | 'objectLock'>;
  readonly audit: Pick<AuditLog, 'record' | 'recordMany' | 'recordDenied'>;
  readonly phones: Pick<PhoneHasher, 'hash'>;
  readonly keyCache?: Pick<DataKeyCache, 'delete'>;
  readonly logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
  readonly config: { readonly retention: Config['retention'] };
}
