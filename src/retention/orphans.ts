import { durationMs } from '../config/duration.js';
import { isUuid } from '../lib/uuid.js';
import { sweepOrphanedPeaks } from './peaks-sweep.js';
import type { StoredObjectInfo } from '../storage/types.js';
import { SYSTEM_RETENTION_ACTOR, type RetentionDeps } from './types.js';

/**
 * The orphan sweep. An upload stores its object before it commits its row; a process that dies
 * in between leaves an object no row refers to, which nobody can ever read (its wrapped key died
 * with the process). Objects under recordings/ older than the grace period whose id has no live
 * row pointing at them are deleted and audited as 'orphan.deleted'. A put that died before its
 * object was complete left only a temp file (fs store), removed under the same grace period.
 *
 * Two things keep the sweep off uploads still in progress on any replica. Every upload is
 * registered in uploads_in_progress under a renewed lease from before its object exists until
 * its commit, and the sweep skips the objects and temp files of live registrations however old
 * they look. And the grace period is longer than the slowest upload (the config schema refuses an
 * ORPHAN_GRACE that does not exceed HTTP_REQUEST_TIMEOUT_MS plus a margin), because an object
 * can carry the time its upload began. Each candidate is looked up again right before it is
 * deleted, after an expired registration of it has been dropped (which waits for a commit that
 * holds it). Peaks objects of recordings that are gone are swept too (peaks-sweep.ts).
 */
export interface OrphanSweepOptions {
  /** ORPHAN_GRACE by default. */
  readonly graceMs?: number;
  readonly dryRun?: boolean;
  readonly batchSize?: number;
}

export interface OrphanSweepResult {
  readonly deleted: number; readonly failed: number; readonly keys: string[];
  /** Temp files of puts that died mid-body (fs store), removed under the same grace period. */
  readonly tempFiles: number;
}

const PREFIX = 'recordings/';
const KEY = /^recordings\/([^/]+)\/([0-9a-f-]{36})$/;

export async function runOrphanSweep(deps: RetentionDeps, now: Date = new Date(), opts: OrphanSweepOptions = {}): Promise<OrphanSweepResult> {
  const graceMs = opts.graceMs ?? durationMs(deps.config.retention.orphanGrace);
  const cutoff = now.getTime() - graceMs;
  const batchSize = opts.batchSize ?? 500;
  const keys: string[] = [];
  let failed = 0;
  let batch: StoredObjectInfo[] = [];
  const flush = async (): Promise<void> => {
    const orphans = await unclaimed(deps, batch);
    batch = [];
    for (const o of orphans) {
      if (opts.dryRun) { keys.push(o.key); continue; }
      await deps.uploads.dropExpired(o.key);
      if ((await unclaimed(deps, [o])).length === 0) continue;
      try {
        await deps.store.delete(o.key);
      } catch (err) {
        failed++;
        deps.logger?.warn({ err, objectKey: o.key }, 'orphaned object could not be deleted; the next sweep retries it');
        continue;
      }
      await deps.audit.record(orphanEvent(o));
      keys.push(o.key);
    }
  };
  for await (const info of deps.store.list(PREFIX)) {
    if (info.lastModified.getTime() > cutoff || !KEY.test(info.key)) continue;
    batch.push(info);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  const peaks = await sweepOrphanedPeaks(deps, cutoff, opts.dryRun ?? false, batchSize);
  keys.push(...peaks.keys);
  failed += peaks.failed;
  let tempFiles = 0;
  if (!opts.dryRun && deps.store.sweepTempFiles) {
    // A put killed mid-body never reached recordings/: its partial ciphertext sits in a temp file.
    try {
      tempFiles = await deps.store.sweepTempFiles(graceMs, await deps.uploads.live());
    } catch (err) {
      failed++;
      deps.logger?.warn({ err }, 'temp files of dead uploads could not be removed; the next sweep retries');
    }
  }
  if (!opts.dryRun) await deps.uploads.purgeExpired(graceMs);
  if ((keys.length > 0 || tempFiles > 0) && !opts.dryRun) deps.logger?.info({ deleted: keys.length, tempFiles, failed }, 'orphan sweep deleted unreferenced objects');
  return { deleted: keys.length, failed, keys, tempFiles };
}

/** The objects of `infos` that no active or deleting row refers to and no live upload is writing. */
async function unclaimed(deps: RetentionDeps, infos: readonly StoredObjectInfo[]): Promise<StoredObjectInfo[]> {
  const orphans = await unreferenced(deps, infos);
  if (orphans.length === 0) return orphans;
  const live = await deps.uploads.live(orphans.map((o) => o.key));
  return orphans.filter((o) => !live.has(o.key));
}

/** The objects of `infos` that no active or deleting row refers to. */
async function unreferenced(deps: RetentionDeps, infos: readonly StoredObjectInfo[]): Promise<StoredObjectInfo[]> {
  const ids = infos.map((i) => idOf(i.key)).filter((id): id is string => id !== null);
  if (ids.length === 0) return [];
  const referenced = await deps.recordings.referencedObjectKeys(ids);
  return infos.filter((i) => idOf(i.key) !== null && !referenced.has(i.key));
}

function idOf(key: string): string | null {
  const id = KEY.exec(key)?.[2];
  return id && isUuid(id) ? id : null;
}

/** The orphan.deleted event of an object whose key names tenant and recording id as `pattern`'s groups 1 and 2. */
export function orphanEvent(o: StoredObjectInfo, pattern: RegExp = KEY) {
  const m = pattern.exec(o.key);
  return {
    tenant: m?.[1] ?? null, actorSub: SYSTEM_RETENTION_ACTOR, actorRole: null, action: 'orphan.deleted' as const, outcome: 'allowed' as const,
    recordingId: m?.[2] ?? null,
    details: { objectKey: o.key, sizeBytes: o.sizeBytes, lastModified: o.lastModified.toISOString() },
  };
}
