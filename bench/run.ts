/**
 * `npm run bench [-- --quick] [--only=a,b] [--profile] [--from-source] [--vault-node-options=…]`
 * measures every figure of the performance issue against a baseline taken in the same run on the
 * same bytes, prints a table and writes bench/results.json (and bench/results.md, the same table
 * for the README). Never part of `npm test`. bench/NOTES.md explains each figure and its method.
 */
import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runAudit } from './figures/audit.js';
import { runAuditLogs } from './figures/audit-logs.js';
import { runCrypto } from './figures/crypto.js';
import { runIngest } from './figures/ingest.js';
import { runRetention } from './figures/retention.js';
import { runRss } from './figures/rss.js';
import { runSeek } from './figures/seek.js';
import { runStartup } from './figures/startup.js';
import { runUpload } from './figures/upload.js';
import { buildVault, deploymentNodeOptions } from './lib/build.js';
import { killChildren, ROOT } from './lib/children.js';
import { startCluster, type BenchCluster } from './lib/cluster.js';
import { machine } from './lib/machine.js';
import { GiB, MiB } from './lib/payload.js';
import { startRawServer, startSinkServer, type RawServer, type SinkServer } from './lib/raw.js';
import { failed, formatMarkdown, formatTable, type Entry } from './lib/results.js';
import { startS3rver, type S3rverProcess } from './lib/s3rver.js';
import { startVault, type VaultProcess } from './lib/vault.js';

export interface Settings {
  readonly cryptoBytes: number;
  readonly cryptoRepetitions: number;
  readonly uploadBytes: number;
  readonly uploadRepetitions: number;
  readonly rssBytes: number;
  readonly seekSeconds: number;
  readonly seekRepetitions: number;
  readonly ingestUploads: number;
  readonly ingestBytes: number;
  readonly ingestClients: number;
  readonly auditEvents: number;
  readonly auditWriters: number;
  readonly retentionRows: number;
  readonly startupRepetitions: number;
  readonly auditLogEvents: number;
  readonly auditVerifyEvents: number;
  readonly auditProofEvents: number;
}

const FULL: Settings = {
  cryptoBytes: 256 * MiB, cryptoRepetitions: 5, uploadBytes: 256 * MiB, uploadRepetitions: 5, rssBytes: GiB,
  seekSeconds: 3600, seekRepetitions: 40, ingestUploads: 1000, ingestBytes: 2 * MiB, ingestClients: 16,
  auditEvents: 10_000, auditWriters: 10, retentionRows: 2000, startupRepetitions: 7,
  auditLogEvents: 10_000, auditVerifyEvents: 1_000_000, auditProofEvents: 1_000_000,
};

const QUICK: Settings = {
  cryptoBytes: 64 * MiB, cryptoRepetitions: 5, uploadBytes: 64 * MiB, uploadRepetitions: 3, rssBytes: 256 * MiB,
  seekSeconds: 600, seekRepetitions: 20, ingestUploads: 200, ingestBytes: 2 * MiB, ingestClients: 16,
  auditEvents: 2000, auditWriters: 10, retentionRows: 300, startupRepetitions: 5,
  auditLogEvents: 2000, auditVerifyEvents: 100_000, auditProofEvents: 100_000,
};

const FIGURES = ['crypto', 'startup', 'upload-fs', 'upload-s3', 'ingest', 'seek', 'rss', 'audit', 'retention', 'audit-logs'] as const;
type Figure = (typeof FIGURES)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'from-source': { type: 'boolean', default: false },
    'vault-node-options': { type: 'string' },
  },
  strict: true,
});

// `npm run bench --quick` (without `--`) reaches the script only as npm_config_quick.
const quick = flags.quick || process.env.npm_config_quick === 'true';
const settings = quick ? QUICK : FULL;
const only = new Set((flags.only ?? FIGURES.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const name of only) if (!(FIGURES as readonly string[]).includes(name)) throw new Error(`unknown figure "${name}"; choose from ${FIGURES.join(', ')}`);
const selected = (f: Figure): boolean => only.has(f);
const profileFlags = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'profiles')}`] : [];
/** Node flags for the vault process: the container's NODE_OPTIONS unless given on the command line. */
const vaultOptions = flags['vault-node-options'] !== undefined
  ? flags['vault-node-options'].split(' ').filter(Boolean) : await deploymentNodeOptions();
const vaultFlags = [...profileFlags, ...(flags['from-source'] ? ['--import', 'tsx'] : []), ...vaultOptions];
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

const entries: Entry[] = [];
let errors = 0;
/** Set by SIGINT/SIGTERM: the figures in flight fail, and nothing may be reported or written. */
let aborted = false;

async function figure(name: Figure, run: () => Promise<Entry[]>): Promise<void> {
  if (!selected(name)) return;
  log(`== ${name}`);
  const started = performance.now();
  try {
    entries.push(...(await run()));
  } catch (err) {
    errors += 1;
    log(`   ${name} failed: ${(err as Error).stack ?? String(err)}`);
    entries.push(failed(name, '-', '-', { kind: 'none' }, err));
  }
  log(`   ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

interface Context {
  readonly cluster: BenchCluster;
  readonly scratch: string;
  /** What node runs: the compiled build's bin/callvault.js, or src/cli/main.ts (through tsx) with --from-source. */
  readonly bin: string;
}

interface Baselines { readonly raw?: RawServer; readonly sink?: SinkServer }

/** Runs `body` with a vault and its baselines (fs: the sinks; s3rver: the raw-PUT twin); everything is stopped after. */
async function withStore(ctx: Context, store: 'fs' | 's3rver', body: (vault: VaultProcess, baselines: Baselines) => Promise<void>): Promise<void> {
  const stops: Array<() => Promise<void>> = [];
  try {
    let s3: S3rverProcess | undefined;
    if (store === 's3rver') {
      const started = await startS3rver(path.join(ctx.scratch, 's3rver'));
      stops.push(() => started.stop());
      s3 = started;
    }
    const vault = await startVault({
      name: store, database: await ctx.cluster.createDatabase(), dataDir: path.join(ctx.scratch, `vault-${store}`), s3, bin: ctx.bin, nodeFlags: vaultFlags,
    });
    stops.push(() => vault.stop());
    const started = s3 ? { raw: await startRawServer(vault, s3, profileFlags) } : { sink: await startSinkServer(vault, path.join(ctx.scratch, 'sink'), profileFlags) };
    const server = started.raw ?? started.sink;
    if (server) stops.push(() => server.stop());
    await body(vault, started);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`   stop failed: ${String(err)}`));
  }
}

async function measureServers(ctx: Context): Promise<void> {
  const s = settings;
  if (selected('upload-fs') || selected('ingest') || selected('seek')) {
    await withStore(ctx, 'fs', async (vault, { sink }) => {
      if (!sink) throw new Error('no sink server');
      const baselines = [
        { name: 'durable sink (write + fsync)', url: sink.durableUrl, pid: sink.pid, target: { kind: 'ratio-min', value: 0.7 } as const },
        { name: 'null sink (read + discard)', url: sink.nullUrl, pid: sink.pid, target: { kind: 'ratio-min', value: 0.35 } as const },
      ];
      await figure('upload-fs', () => runUpload({ vault, baselines, store: 'fs', bytes: s.uploadBytes, repetitions: s.uploadRepetitions, scratch: ctx.scratch, log }));
      await figure('ingest', () => runIngest({ vault, sink, uploads: s.ingestUploads, bytes: s.ingestBytes, clients: s.ingestClients, log }));
      await figure('seek', () => runSeek({ vault, seconds: s.seekSeconds, repetitions: s.seekRepetitions, log }));
    });
  }
  if (selected('upload-s3')) {
    await withStore(ctx, 's3rver', async (vault, { raw }) => {
      if (!raw) throw new Error('no raw server');
      const baselines = [{ name: 'raw multipart PUT into s3rver', url: `${raw.url}/raw`, pid: raw.pid, target: { kind: 'ratio-min', value: 0.85 } as const }];
      await figure('upload-s3', () => runUpload({ vault, baselines, store: 's3rver', bytes: s.uploadBytes, repetitions: s.uploadRepetitions, scratch: ctx.scratch, log }));
    });
  }
  await figure('rss', () => runRss({ cluster: ctx.cluster, dataDir: path.join(ctx.scratch, 'vault-rss'), bytes: s.rssBytes, bin: ctx.bin, nodeFlags: vaultFlags, log }));
  await figure('audit', () => runAudit({ cluster: ctx.cluster, events: s.auditEvents, writers: s.auditWriters, log }));
  await figure('retention', () => runRetention({ cluster: ctx.cluster, dataDir: path.join(ctx.scratch, 'retention'), rows: s.retentionRows, log }));
  await figure('audit-logs', () => runAuditLogs({ cluster: ctx.cluster, events: s.auditLogEvents, verifyEvents: s.auditVerifyEvents, proofEvents: s.auditProofEvents, scratch: ctx.scratch, log }));
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'callvault-bench-'));
  // Enterable by the "postgres" user a root run starts the cluster as, so the cluster stays in here.
  await chmod(scratch, 0o711);
  const started = performance.now();
  let cluster: BenchCluster | undefined;
  // The embedded PostgreSQL runs in its own process group: an interrupted run must stop it itself.
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping`);
    aborted = true;
    killChildren();
    void (cluster?.stop() ?? Promise.resolve())
      .then(() => rm(scratch, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await figure('crypto', () => runCrypto({ bytes: settings.cryptoBytes, repetitions: settings.cryptoRepetitions, log }));
    // The newcomer's figures always run the build that `npm ci` leaves, as `npm start` does.
    await figure('startup', async () => runStartup({ bin: await buildVault(), dataDir: path.join(scratch, 'vault-startup'), repetitions: settings.startupRepetitions, log }));
    if (FIGURES.some((f) => f !== 'crypto' && f !== 'startup' && selected(f))) {
      const bin = flags['from-source'] ? path.join(ROOT, 'src', 'cli', 'main.ts') : await buildVault();
      cluster = await startCluster(scratch);
      await measureServers({ cluster, scratch, bin });
    }
  } finally {
    await cluster?.stop();
    if (!flags.keep) await rm(scratch, { recursive: true, force: true });
    else log(`scratch kept at ${scratch}`);
  }
  if (!aborted) await report(performance.now() - started);
}

async function report(elapsedMs: number): Promise<void> {
  const args = process.argv.slice(2);
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const host = machine();
  const vaultNote = `${flags['from-source'] ? 'sources via tsx' : 'compiled build, as in the container'}, node flags: ${vaultOptions.join(' ') || 'none'}`;
  process.stdout.write(`\n${formatTable(entries)}\n\n${command} on ${host}, ${(elapsedMs / 1000).toFixed(0)} s; ${vaultNote}\n`);
  if (flags.only) return; // a partial run must not overwrite the full results
  const json = path.join(ROOT, 'bench', 'results.json');
  await writeFile(`${json}.tmp`, `${JSON.stringify(entries, null, 2)}\n`);
  await rename(`${json}.tmp`, json);
  const md = [
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}, ${(elapsedMs / 1000).toFixed(0)} s)`, '',
    `Machine: ${host}`, '', `Vault: ${vaultNote}`, '', formatMarkdown(entries), '',
  ].join('\n');
  await writeFile(path.join(ROOT, 'bench', 'results.md'), md);
}

main().then(() => { process.exitCode = errors > 0 ? 1 : 0; }, (err: unknown) => {
  log((err as Error).stack ?? String(err));
  process.exitCode = 1;
});
