/**
 * Figure 8: what a newcomer waits for. `callvault --help` through the compiled bin; a second
 * `npm start` on an existing embedded data directory until /readyz answers 200; the idle
 * resident set of the serving process. All three run the build as `npm ci` leaves it (compiled
 * JavaScript, bin/callvault.js), in embedded mode with nothing configured but a data directory
 * and a port. Baselines: a bare `node -e 0`, the first start on an empty directory (initdb and
 * every generated key), and an idle bare node process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/db/embedded-postgres.js';
import { baseEnv, memoryOf, spawnNode, type Child } from '../lib/children.js';
import { entry, type Entry } from '../lib/results.js';
import { waitReady } from '../lib/vault.js';

export interface StartupOptions {
  /** bin/callvault.js of the compiled build; its directory's parent holds package.json and dist/. */
  readonly bin: string;
  readonly dataDir: string;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

const HELP_LIMIT_S = 0.4;
const READY_LIMIT_S = 3;
const IDLE_RSS_LIMIT_MB = 90;
const MB = 1e6;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/** Wall-clock seconds from spawn to exit of `node ...args`, which must exit 0. */
async function timeNode(args: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = spawnNode({ args, env: baseEnv() });
  const code = await new Promise<number | null>((resolve) => child.process.once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}:\n${child.tail()}`);
  return (performance.now() - started) / 1000;
}

/** npm's own CLI, run by this node: `npm start` exactly as a newcomer types it. */
function npmCli(): string {
  return process.env.npm_execpath ?? path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
}

/**
 * The node process serving `dataDir`. npm runs the start script through a shell, and the process
 * tree below npm is not reliable (the serving process may be re-parented), so it is found by
 * its command line and its CALLVAULT_DATA_DIR.
 */
function servingPid(dataDir: string): number {
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!cmdline[0]?.endsWith('node') || !cmdline.some((a) => a.endsWith('callvault.js'))) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`CALLVAULT_DATA_DIR=${dataDir}`)) return Number(name);
    } catch { /* exited meanwhile, or not ours */ }
  }
  throw new Error(`no callvault process serves ${dataDir}`);
}

interface Started { readonly seconds: number; readonly child: Child; readonly pid: number; readonly onExit: () => void }

async function npmStart(opts: StartupOptions, port: number): Promise<Started> {
  const env = { ...baseEnv(), CALLVAULT_DATA_DIR: opts.dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  const started = performance.now();
  const child = spawnNode({ args: [npmCli(), 'start'], env, cwd: path.dirname(path.dirname(opts.bin)) });
  try {
    await waitReady(child, `https://127.0.0.1:${port}`, path.join(opts.dataDir, 'tls', 'server.crt'), 120_000);
    const seconds = (performance.now() - started) / 1000;
    const pid = servingPid(opts.dataDir);
    // An interrupted bench kills npm only: the vault must still stop (and stop its database).
    const onExit = (): void => { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } };
    process.once('exit', onExit);
    return { seconds, child, pid, onExit };
  } catch (err) {
    await child.stop(5_000);
    throw err;
  }
}

/** SIGTERM to the vault itself (npm's shell does not pass it on); it stops its database before it exits. */
async function stop(s: Started): Promise<void> {
  const gone = (): boolean => {
    try { return readFileSync(`/proc/${s.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true; } catch { return true; }
  };
  process.off('exit', s.onExit);
  try { process.kill(s.pid, 'SIGTERM'); } catch { /* already gone */ }
  const deadline = Date.now() + 30_000;
  while (!gone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!gone()) process.kill(s.pid, 'SIGKILL');
  await s.child.stop(5_000);
}

export async function runStartup(opts: StartupOptions): Promise<Entry[]> {
  const bare: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < opts.repetitions; i++) {
    bare.push(await timeNode(['-e', '0']));
    help.push(await timeNode([opts.bin, '--help']));
  }
  opts.log(`  --help: median ${median(help).toFixed(3)} s (bare node ${median(bare).toFixed(3)} s)`);

  const port = await freePort();
  const first = await npmStart(opts, port);
  await stop(first);
  const again: number[] = [];
  let idle = 0;
  for (let i = 0; i < Math.max(1, Math.floor(opts.repetitions / 2)); i++) {
    const s = await npmStart(opts, port);
    again.push(s.seconds);
    if (i === 0) {
      await new Promise((r) => setTimeout(r, 2000));
      idle = (await memoryOf(s.pid)).rss;
    }
    await stop(s);
  }
  opts.log(`  npm start: first ${first.seconds.toFixed(2)} s, again ${again.map((s) => s.toFixed(2)).join(', ')} s; idle RSS ${(idle / MB).toFixed(1)} MB`);

  const sleeper = spawnNode({ args: ['-e', 'setTimeout(() => {}, 60_000)'], env: baseEnv() });
  await new Promise((r) => setTimeout(r, 1000));
  const bareRss = (await memoryOf(sleeper.pid)).rss;
  await sleeper.stop(1_000);

  return [
    entry({
      name: 'callvault --help', unit: 's', value: median(help), baseline: median(bare), baselineName: 'node -e 0',
      target: { kind: 'value-max', value: HELP_LIMIT_S }, notes: `median of ${opts.repetitions}, node bin/callvault.js --help of the compiled build`,
    }),
    entry({
      name: 'second npm start, ready', unit: 's', value: median(again), baseline: first.seconds, baselineName: 'first npm start on an empty data directory',
      target: { kind: 'value-max', value: READY_LIMIT_S }, notes: 'spawn of npm start until GET /readyz answers 200; embedded PostgreSQL, nothing configured; median',
    }),
    entry({
      name: 'idle RSS of the serving process', unit: 'MB', value: idle / MB, baseline: bareRss / MB, baselineName: 'idle bare node process',
      target: { kind: 'value-max', value: IDLE_RSS_LIMIT_MB }, notes: 'VmRSS of node bin/callvault.js serve 2 s after ready, npm start flags (--max-semi-space-size=2)',
    }),
  ];
}
