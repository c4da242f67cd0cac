import type { Deps } from '../deps.js';
import { retentionWorkers } from '../retention/schedule.js';

/** The background workers `serve` runs in-process; each stops after its current pass. */
export interface RunningWorkers { stop(): Promise<void> }

export function startWorkers(deps: Deps): RunningWorkers {
  const workers: Array<{ stop(): Promise<void> }> = [];
  workers.push(...retentionWorkers(deps).map((w) => w.start()));
  return { stop: async () => { await Promise.all(workers.map((w) => w.stop())); } };
}
