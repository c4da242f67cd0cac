import type { Db } from '../db/knex.js';
import { dueGroups, type DueGroup } from '../recordings/lifecycle-queries.js';

/**
 * The retention simulator of the admin console: the dry run for one tenant at a chosen instant,
 * as counts. Recordings keep the retainUntil they were given at upload, so what a policy will
 * delete by a date is decided by those stored instants; a pass at `until` deletes the unheld ones
 * and keeps the held ones. Counts only: the admin role does not see recordings' metadata.
 */
export interface SimulationCounts { readonly wouldDelete: number; readonly keptOnHold: number }

export interface RetentionSimulation extends SimulationCounts {
  readonly until: string;
  readonly policy: string | null;
  /** In policy name order. */
  readonly byPolicy: Array<SimulationCounts & { readonly policy: string | null }>;
  /** UTC days of retainUntil that have any due recording, in order. */
  readonly byDay: Array<SimulationCounts & { readonly day: string }>;
}

export async function simulateRetention(db: Db, tenant: string, until: Date, policy?: string): Promise<RetentionSimulation> {
  const groups = await dueGroups(db, tenant, until, policy);
  return {
    until: until.toISOString(), policy: policy ?? null, ...tally(groups),
    byPolicy: [...groupBy(groups, (g) => g.policy)].map(([p, gs]) => ({ policy: p, ...tally(gs) }))
      .sort((a, b) => (a.policy ?? '\uffff').localeCompare(b.policy ?? '\uffff')),
    byDay: [...groupBy(groups, (g) => g.day)].map(([day, gs]) => ({ day, ...tally(gs) })),
  };
}

function tally(groups: readonly DueGroup[]): SimulationCounts {
  let wouldDelete = 0;
  let keptOnHold = 0;
  for (const g of groups) {
    if (g.held) keptOnHold += g.count;
    else wouldDelete += g.count;
  }
  return { wouldDelete, keptOnHold };
}

function groupBy<K>(groups: readonly DueGroup[], key: (g: DueGroup) => K): Map<K, DueGroup[]> {
  const out = new Map<K, DueGroup[]>();
  for (const g of groups) out.set(key(g), [...(out.get(key(g)) ?? []), g]);
  return out;
}
