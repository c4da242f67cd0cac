/**
 * As root the embedded PostgreSQL runs as the "postgres" system user. Where that cannot work, the
 * start stops with a message naming the path and the fix, and never loosens the permissions of
 * the user's directories to get there. Only meaningful as root: elsewhere the server runs as the
 * current user, which reaches whatever it started from (test/deploy/fresh-clone.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { CLI_ARGS } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch.js';

const skip = process.getuid?.() === 0 ? false : 'the postgres system user is only used when the vault runs as root';

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

/** Runs `callvault migrate` (it starts the embedded database) and returns its exit code and stderr. */
async function migrate(dataDir: string, extra: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  const env = { ...process.env, CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: '', DATABASE_ADMIN_URL: '', ...extra };
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [...CLI_ARGS, 'migrate'], { env });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

test('a runtime directory that cannot be created stops the start, naming it and the setting to change', { skip }, async () => {
  const home = await scratchDir('callvault-private-');
  dirs.push(home);
  await chmod(home, 0o700);
  // Under a regular file: no directory can be created there, not even by root.
  const runtime = path.join(home, 'a-file', 'runtime');
  await writeFile(path.join(home, 'a-file'), '');
  const result = await migrate(path.join(home, 'data'), { EMBEDDED_DATABASE_RUNTIME_DIR: runtime });

  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^callvault: embedded database: /m);
  // The binaries' copy or the cluster, whichever the start needed first, names its path there.
  assert.ok(['postgresql', 'clusters'].some((dir) => result.stderr.includes(path.join(runtime, dir))), result.stderr);
  assert.match(result.stderr, /set EMBEDDED_DATABASE_RUNTIME_DIR to /);
  assert.match(result.stderr, /DATABASE_URL/);
  assert.equal((await stat(home)).mode & 0o777, 0o700, 'the private directory keeps its permissions');
});

test('a cluster moved out of reach of the postgres user: the message names the directory it cannot enter and the fix', { skip }, async () => {
  const home = await scratchDir('callvault-moved-');
  dirs.push(home);
  const dataDir = path.join(home, 'data');
  const server = await EmbeddedPostgres.start({ dir: path.join(dataDir, 'postgres') });
  assert.equal(server.dir, path.join(dataDir, 'postgres'), 'a new data directory whose parents the postgres user can enter keeps its cluster in place');
  await server.stop();
  await chmod(home, 0o700);

  const result = await migrate(dataDir);
  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.stderr.includes(`cluster ${path.join(dataDir, 'postgres')} is out of reach`), result.stderr);
  assert.ok(result.stderr.includes(`cannot enter ${home}.`), result.stderr);
  assert.match(result.stderr, /leave a symlink at .*run the vault as a non-root user/);
  assert.equal((await stat(home)).mode & 0o777, 0o700, 'the private directory keeps its permissions');
});
