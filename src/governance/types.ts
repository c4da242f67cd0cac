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
  readonly store: Pick<ObjectStore, 'delete' | 'setLegalHold'>;
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  readonly phones: Pick<PhoneHasher, 'hash'>;
  readonly keyCache?: Pick<DataKeyCache, 'delete'>;
  readonly logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
  readonly config: { readonly storage: Config['storage']; readonly retention: Config['retention'] };
}

/** True when objects are written under S3 Object Lock, so legal holds are mirrored onto them. */
export function objectLockEnabled(config: { readonly storage: Config['storage'] }): boolean {
  return config.storage.driver === 's3' && config.storage.objectLockMode !== undefined;
}
