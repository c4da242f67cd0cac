import { isUuid } from '../lib/uuid.js';
import { PEAKS_PREFIX } from '../peaks/object.js';
import type { StoredObjectInfo } from '../storage/types.js';
import { orphanEvent } from './orphans.js';
import type { RetentionDeps } from './types.js';

/**
 * The orphan sweep's pass over peaks objects (src/peaks). Deletion removes a recording's peaks
 * with its object, and a first view that writes them while the recording is deleted removes them
 * again at once; a process that dies between that write and its check leaves them behind. Such
 * peaks are sealed under a key derived from the destroyed data key, so nobody can read them; the
 * sweep still removes every peaks object older than the grace period whose recording is neither
 * active nor being deleted, audited as orphan.deleted.
 * Nothing but a view of a live recording writes peaks, so no registration is needed.
 */
export const PEAKS_KEY = /^peaks\/([^/]+)\/([0-9a-f-]{36})$/;

export interface PeaksSweepResult { readonly keys: string[]; readonly failed: number }

export async function sweepOrphanedPeaks(deps: RetentionDeps, cutoff: number, dryRun: boolean, batchSize: number): Promise<PeaksSweepResult> {
  const keys: string[] = [];
  let failed = 0;
  let batch: StoredObjectInfo[] = [];
  const flush = async (): Promise<void> => {
    const ids = batch.map((o) => PEAKS_KEY.exec(o.key)?.[2] ?? '');
    const live = await deps.recordings.liveRecordings(ids);
    const orphans = batch.filter((o) => { const m = PEAKS_KEY.exec(o.key); return m && !live.has(`${m[1]}/${m[2]}`); });
    batch = [];
    for (const o of orphans) {
      if (dryRun) { keys.push(o.key); continue; }
      try {
        await deps.store.delete(o.key);
      } catch (err) {
        failed++;
        deps.logger?.warn({ err, objectKey: o.key }, 'orphaned peaks could not be deleted; the next sweep retries them');
        continue;
      }
      await deps.audit.record(orphanEvent(o, PEAKS_KEY));
      keys.push(o.key);
    }
  };
  for await (const info of deps.store.list(PEAKS_PREFIX)) {
    const id = PEAKS_KEY.exec(info.key)?.[2];
    if (info.lastModified.getTime() > cutoff || !id || !isUuid(id)) continue;
    batch.push(info);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return { keys, failed };
}
