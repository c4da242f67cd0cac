import { auditActor } from '../audit/actor.js';
import { newClaimOwner, type ClaimOwner } from '../db/locks.js';
import type { ClaimedRecording } from '../recordings/lifecycle-queries.js';
import { completeDeletions } from './deletion.js';
import { SYSTEM_RETENTION_ACTOR, type RetentionDeps } from './types.js';

/**
 * One retention pass: claims due recordings batch by batch and finishes each through the states
 * of deletion.ts, until nothing due at `now` is left that this pass has not tried. Safe to run on
 * any number of machines at once; a pass killed anywhere is completed by the next one.
 */
export interface RetentionPassOptions {
  /** Recordings claimed per batch (RETENTION_BATCH_SIZE by default). */
  readonly batchSize?: number;
  /** List what would be deleted; claim and change nothing. */
  readonly dryRun?: boolean;
  /** A name for this worker in lease_owner; a unique suffix is always added. */
  readonly owner?: string;
  /** Lease per claim (RETENTION_LEASE_SECONDS by default). */
  readonly leaseSeconds?: number;
  /** Objects deleted in parallel within a batch. */
  readonly concurrency?: number;
}

export interface RetentionItem { readonly id: string; readonly callId: string; readonly tenant: string; readonly retainUntil: string | null }

export interface RetentionPassResult {
  /** Recordings this pass tombstoned (for a dry run: that it would delete). */
  readonly deleted: number;
  /** Due recordings kept because they are on legal hold. */
  readonly skippedHold: number;
  /** Deletions that failed this pass; they stay 'deleting' and the next pass retries them. */
  readonly failed: number;
  readonly ids: string[];
  readonly items: RetentionItem[];
  /** Now minus the oldest overdue retainUntil left after the pass; 0 when none. */
  readonly lagSeconds: number;
}

export async function runRetentionPass(deps: RetentionDeps, now: Date = new Date(), opts: RetentionPassOptions = {}): Promise<RetentionPassResult> {
  const skippedHold = await deps.recordings.countHeldDue(now);
  if (opts.dryRun) return dryRun(deps, now, skippedHold, opts);
  const who = newClaimOwner(opts.owner ?? 'retention');
  const batchSize = opts.batchSize ?? deps.config.retention.batchSize;
  const leaseSeconds = opts.leaseSeconds ?? deps.config.retention.leaseSeconds;
  const items: RetentionItem[] = [];
  let failed = 0;
  const started = performance.now();
  const liveness = await deps.recordings.holdClaimLiveness(who);
  try {
    for (;;) {
      const claimed = await claimBatch(deps, who, now, batchSize, leaseSeconds);
      if (claimed.length === 0) break;
      const ours = await deps.recordings.stillClaimed(who, claimed);
      const outcome = await completeDeletions(deps, who, claimed.filter((r) => ours.has(r.id)), {
        actor: auditActor(SYSTEM_RETENTION_ACTOR), concurrency: opts.concurrency,
      });
      items.push(...outcome.deleted.map(toItem));
      failed += outcome.failed.length;
      deps.metrics?.retentionDeleted.inc(outcome.deleted.length);
      if (outcome.failed.length > 0) {
        deps.metrics?.retentionFailed.inc(outcome.failed.length);
        for (const f of outcome.failed) deps.logger?.warn({ err: f.error, recordingId: f.id }, 'retention could not delete a recording; the next pass retries it');
      }
    }
  } finally {
    await liveness.release();
  }
  deps.metrics?.retentionSkippedHold.inc(skippedHold);
  // Lag at the end of the pass on the clock it claimed by: `now` plus the time the pass took.
  const lagSeconds = await lag(deps, new Date(now.getTime() + (performance.now() - started)));
  if (items.length > 0 || failed > 0) deps.logger?.info({ deleted: items.length, failed, skippedHold, lagSeconds }, 'retention pass finished');
  return { deleted: items.length, skippedHold, failed, ids: items.map((i) => i.id), items, lagSeconds };
}

/** Abandoned claims first (they are the oldest work), then newly due rows. */
async function claimBatch(deps: RetentionDeps, who: ClaimOwner, now: Date, batchSize: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
  const reclaimed = await deps.recordings.reclaimAbandoned(who, batchSize, leaseSeconds);
  if (reclaimed.length >= batchSize) return reclaimed;
  return [...reclaimed, ...(await deps.recordings.claimDue(who, now, batchSize - reclaimed.length, leaseSeconds, SYSTEM_RETENTION_ACTOR))];
}

async function dryRun(deps: RetentionDeps, now: Date, skippedHold: number, opts: RetentionPassOptions): Promise<RetentionPassResult> {
  const items: RetentionItem[] = [];
  for await (const r of deps.recordings.listDue(now, opts.batchSize ?? deps.config.retention.batchSize)) {
    items.push({ id: r.id, callId: r.callId, tenant: r.tenant, retainUntil: r.retainUntil?.toISOString() ?? null });
  }
  const lagSeconds = await lag(deps, now);
  return { deleted: items.length, skippedHold, failed: 0, ids: items.map((i) => i.id), items, lagSeconds };
}

async function lag(deps: RetentionDeps, now: Date): Promise<number> {
  const oldest = await deps.recordings.oldestOverdue(now);
  const seconds = oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0;
  deps.metrics?.retentionLag.set(seconds);
  return seconds;
}

function toItem(r: ClaimedRecording): RetentionItem {
  return { id: r.id, callId: r.callId, tenant: r.tenant, retainUntil: r.retainUntil?.toISOString() ?? null };
}
