import { durationMs, parseIsoDuration } from '../config/duration.js';
import type { Deps } from '../deps.js';
import { runOrphanSweep } from '../retention/orphans.js';
import { retentionWorkers } from '../retention/schedule.js';
import { runRetentionPass } from '../retention/worker.js';
import { optionText, type Invocation } from './parse.js';
import { withDeps } from './with-deps.js';

/**
 * `callvault retention run`: deletes recordings whose retainUntil has passed (unless held) and
 * objects orphaned by dead uploads. With --once, one pass, then exit: 0 when everything due was
 * deleted, 1 when some deletions failed (they are retried by the next run). --dry-run prints what
 * would go, one `id<TAB>callId<TAB>tenant<TAB>retainUntil` line per recording.
 */
export async function runRetention(inv: Invocation): Promise<number> {
  const { values } = inv;
  const batchSize = optionText(inv, 'batch-size');
  const parsed: Parsed = {
    once: values.once === true, dryRun: values['dry-run'] === true, orphans: values['no-orphans'] !== true,
    batchSize: batchSize === undefined ? undefined : Number(batchSize), interval: optionText(inv, 'interval'),
  };
  return withDeps((deps) => (parsed.once ? runOnce(deps, parsed) : runForever(deps, parsed.interval)));
}

interface Parsed { once: boolean; dryRun: boolean; orphans: boolean; batchSize?: number; interval?: string }

async function runOnce(deps: Deps, p: Parsed): Promise<number> {
  const now = new Date();
  const result = await runRetentionPass(deps, now, { dryRun: p.dryRun, batchSize: p.batchSize, owner: 'retention-cli' });
  const orphans = p.orphans ? await runOrphanSweep(deps, now, { dryRun: p.dryRun }) : { deleted: 0, failed: 0, keys: [] };
  const out: string[] = [];
  for (const item of result.items) out.push(`${p.dryRun ? '' : 'deleted\t'}${item.id}\t${item.callId}\t${item.tenant}\t${item.retainUntil ?? ''}`);
  for (const key of orphans.keys) out.push(`${p.dryRun ? 'orphan' : 'deleted orphan'}\t${key}`);
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  const verb = p.dryRun ? 'would delete' : 'deleted';
  process.stderr.write(
    `retention: ${verb} ${result.deleted} recording(s); ${result.skippedHold} due recording(s) kept on legal hold; ` +
    `${result.failed} failed; ${verb} ${orphans.deleted} orphaned object(s)` +
    `${orphans.failed ? ` (${orphans.failed} failed)` : ''}; lag ${Math.round(result.lagSeconds)} s\n`,
  );
  return result.failed > 0 || orphans.failed > 0 ? 1 : 0;
}

async function runForever(deps: Deps, interval: string | undefined): Promise<number> {
  const configured = deps.config.retention.interval;
  const every = interval ? parseIsoDuration(interval) : configured === 'off' ? parseIsoDuration('PT5M') : configured;
  if (!every) return 2;
  const workers = retentionWorkers({ ...deps, config: { ...deps.config, retention: { ...deps.config.retention, interval: every } } });
  for (const w of workers) w.start();
  deps.logger.info({ everyMs: durationMs(every) }, 'retention worker running');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await Promise.all(workers.map((w) => w.stop()));
  return 0;
}
