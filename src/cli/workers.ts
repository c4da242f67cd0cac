import type { Deps } from '../deps.js';
import { startCheckpointSchedule } from '../audit/checkpoints.js';
import { durationMs } from '../config/duration.js';
import { retentionWorkers } from '../retention/schedule.js';

/** The background workers `serve` runs in-process; each stops after its current pass. */
export interface RunningWorkers { stop(): Promise<void> }

export function startWorkers(deps: Deps): RunningWorkers {
  const workers: Array<{ stop(): Promise<void> }> = [];
  workers.push(...retentionWorkers(deps).map((w) => w.start()));
  const anchorEvery = deps.config.audit.anchorInterval;
  if (anchorEvery !== 'off') {
    workers.push(startCheckpointSchedule(deps.checkpoints, durationMs(anchorEvery),
      (err) => deps.logger.error({ err }, 'audit anchor failed; it will be retried')));
  }
  return { stop: async () => { await Promise.all(workers.map((w) => w.stop())); } };
}
