import type { Deps } from '../deps.js';

/** The background workers `serve` runs in-process; each stops after its current pass. */
export interface RunningWorkers { stop(): Promise<void> }

export function startWorkers(_deps: Deps): RunningWorkers {
  const workers: Array<{ stop(): Promise<void> }> = [];
  return { stop: async () => { await Promise.all(workers.map((w) => w.stop())); } };
}
