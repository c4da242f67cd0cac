import { durationMs } from '../config/duration.js';
import type { Logger } from '../http/logger.js';
import { IntervalWorker } from '../workers/interval-worker.js';
import { runOrphanSweep } from './orphans.js';
import type { RetentionDeps } from './types.js';
import { runRetentionPass } from './worker.js';

/**
 * The in-process retention loop of `serve`: a retention pass every RETENTION_INTERVAL, and an
 * orphan sweep every RETENTION_INTERVAL or ORPHAN_GRACE, whichever is longer (listing a whole
 * bucket is costly, and an orphan is not due before its grace has passed anyway). None when
 * RETENTION_INTERVAL is 'off', for deployments that run `callvault retention run` on their own.
 */
export function retentionWorkers(deps: RetentionDeps & { readonly logger: Logger }): IntervalWorker[] {
  const interval = deps.config.retention.interval;
  if (interval === 'off') return [];
  const everyMs = durationMs(interval);
  const sweepMs = Math.max(everyMs, durationMs(deps.config.retention.orphanGrace));
  return [
    new IntervalWorker('retention', everyMs, (now) => runRetentionPass(deps, now), deps.logger),
    new IntervalWorker('orphan-sweep', sweepMs, (now) => runOrphanSweep(deps, now), deps.logger),
  ];
}
