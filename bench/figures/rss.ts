/**
 * Figure 3: peak resident memory of the vault process while it takes in and while it plays out
 * one very large recording. The vault runs alone in its own process; the kernel's high-water
 * mark (VmHWM) is reset right before each transfer (clear_refs) and read right after, with
 * VmRSS sampled meanwhile as a cross-check. Idle RSS just before the transfer is the baseline.
 */
import { memoryOf, resetPeak, sampleRss } from '../lib/children.js';
import type { BenchCluster } from '../lib/cluster.js';
import { agentFor, get, postJson } from '../lib/http.js';
import { MiB } from '../lib/payload.js';
import { entry, failed, type Entry } from '../lib/results.js';
import { startVault, type VaultProcess } from '../lib/vault.js';
import { uploadOnce } from './upload.js';

export interface RssOptions {
  readonly cluster: BenchCluster;
  readonly dataDir: string;
  readonly bytes: number;
  readonly bin: string;
  readonly nodeFlags: readonly string[];
  readonly log: (line: string) => void;
}

const MB = 1e6;
const LIMIT_MB = 150;

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
}

/** Peak RSS while `transfer` runs, and the idle RSS before it. */
async function measure(vault: VaultProcess, transfer: () => Promise<void>): Promise<{ idle: number; peak: number }> {
  await settle();
  const idle = (await memoryOf(vault.pid)).rss;
  await resetPeak(vault.pid);
  const sampler = sampleRss(vault.pid);
  await transfer();
  const sampled = await sampler.stop();
  const peak = Math.max((await memoryOf(vault.pid)).peak, sampled);
  return { idle, peak };
}

async function download(vault: VaultProcess, recordingId: string, expected: number): Promise<number> {
  const agent = agentFor(vault.ca);
  try {
    const res = await postJson<{ url: string }>(agent, `${vault.url}/v1/recordings/${recordingId}/links`, { reason: 'performance bench', ttlSeconds: 1800 }, await vault.token('supervisor'));
    if (res.status !== 201) throw new Error(`issuing a link answered ${res.status}`);
    const r = await get(agent, `${vault.url}${new URL(res.json.url).pathname}`);
    if (r.status !== 200 || r.bytes !== expected) throw new Error(`download answered ${r.status} with ${r.bytes} of ${expected} bytes`);
    return r.totalMs;
  } finally {
    await agent.close();
  }
}

export async function runRss(opts: RssOptions): Promise<Entry[]> {
  const vault = await startVault({ name: 'rss', database: await opts.cluster.createDatabase(), dataDir: opts.dataDir, bin: opts.bin, nodeFlags: opts.nodeFlags });
  const size = `${(opts.bytes / MiB).toFixed(0)} MiB`;
  const target = { kind: 'value-max', value: LIMIT_MB } as const;
  try {
    const pbx = await vault.token('pbx');
    const warm = await uploadOnce(vault, pbx, 16 * MiB);
    await download(vault, warm.id, 16 * MiB).catch(() => undefined);
    let recordingId = '';
    const up = await measure(vault, async () => {
      const r = await uploadOnce(vault, pbx, opts.bytes);
      recordingId = r.id;
      opts.log(`  upload ${size}: ${(opts.bytes / MB / (r.ms / 1000)).toFixed(1)} MB/s`);
    });
    const entries = [entry({
      name: `peak RSS, ${size} upload`, unit: 'MB', value: up.peak / MB, baseline: up.idle / MB, baselineName: 'idle RSS of the same process before the upload',
      target, notes: 'VmHWM of the vault process (reset via clear_refs before the transfer), VmRSS sampled every 50 ms as a cross-check',
    })];
    try {
      const down = await measure(vault, async () => {
        const ms = await download(vault, recordingId, opts.bytes);
        opts.log(`  download ${size}: ${(opts.bytes / MB / (ms / 1000)).toFixed(1)} MB/s`);
      });
      entries.push(entry({
        name: `peak RSS, ${size} download`, unit: 'MB', value: down.peak / MB, baseline: down.idle / MB, baselineName: 'idle RSS of the same process before the download',
        target, notes: 'GET /media/{token} of the whole recording, same measurement as the upload',
      }));
    } catch (err) {
      entries.push(failed(`peak RSS, ${size} download`, 'MB', 'idle RSS before the download', target, err));
    }
    opts.log(entries.map((e) => `  ${e.name}: ${e.value?.toFixed(1) ?? '-'} MB (idle ${e.baseline?.toFixed(1) ?? '-'} MB)`).join('\n'));
    return entries;
  } finally {
    await vault.stop();
  }
}
