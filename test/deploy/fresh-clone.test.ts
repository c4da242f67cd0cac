/**
 * A first try, as a new user makes it: `git clone` into a private (0700) directory, `npm ci`,
 * `npm start`, upload a sample and play it back through a link, then admin commands that start
 * the embedded database on their own. As root when the suite runs as root (the server then runs
 * as the "postgres" system user, which may not enter the clone), else as the current user.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../src/db/embedded-postgres.js';
import { fixturePath } from '../helpers/fixtures.js';
import { request } from '../helpers/http.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const asRoot = process.getuid?.() === 0;
const run = promisify(execFile);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The environment of a fresh shell: no vault settings and no state of the `npm test` that runs this. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_(?!config_)|CALLVAULT_|DATABASE_|EMBEDDED_|STORAGE_|S3_|KEY_|KMS_|JWT_|TLS_|NODE_OPTIONS$|NODE_TEST)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

/** Removes a clone and, when its data directory links to a cluster elsewhere, that cluster too. */
async function removeClone(home: string, dataDir: string): Promise<void> {
  const link = path.join(dataDir, 'postgres');
  if ((await lstat(link).catch(() => undefined))?.isSymbolicLink()) {
    await rm(await realpath(link), { recursive: true, force: true });
  }
  await rm(home, { recursive: true, force: true });
}

function startServer(cwd: string, env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void>; output: () => string; stop: () => Promise<void> } {
  // Own process group, as in a terminal: SIGINT goes to npm and the vault alike, like Ctrl-C.
  const child = spawn('npm', ['start'], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('callvault is listening')) { clearInterval(timer); resolve(); }
      if (child.exitCode !== null || child.signalCode !== null) { clearInterval(timer); reject(new Error(`npm start exited:\n${out}`)); }
    }, 100);
  });
  const signal = (sig: NodeJS.Signals): void => { try { process.kill(-(child.pid ?? 0), sig); } catch { /* gone */ } };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signal('SIGINT');
    const timer = setTimeout(() => signal('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, ready, output: () => out, stop };
}

test(`fresh clone in a 0700 directory: npm ci, npm start, upload and play back (${asRoot ? 'as root' : 'as the current user'})`, { timeout: 280_000 }, async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'callvault-clone-'));
  assert.equal((await stat(home)).mode & 0o777, 0o700);
  const clone = path.join(home, 'callvault');
  const dataDir = path.join(clone, 'data');
  cleanups.push(() => removeClone(home, dataDir));

  await run('git', ['clone', '--quiet', REPO, clone]);
  const port = await freePort();
  const env = freshEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
  await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, env, maxBuffer: 16 * 1024 * 1024 });

  const server = startServer(clone, env);
  cleanups.push(server.stop);
  await server.ready;
  const base = { url: `https://127.0.0.1:${port}`, ca: await readFile(path.join(dataDir, 'tls', 'server.crt')) };
  const token = async (role: string, sub: string): Promise<string> =>
    (await run('npx', ['callvault', 'token', '--tenant', 'acme', '--role', role, '--sub', sub], { cwd: clone, env })).stdout.trim();

  const sample = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
  const put = await request(base, {
    method: 'PUT', path: '/v1/recordings/call-001.wav?direction=inbound&from=%2B14155550100&agentId=agent-7',
    token: await token('pbx', 'pbx-1'), body: sample,
  });
  assert.equal(put.status, 201, put.body.toString());
  const receipt = put.json<{ id: string; sha256: string }>();
  assert.equal(receipt.sha256, sha256(sample));

  const sup = await token('supervisor', 'sup-1');
  const link = await request(base, {
    method: 'POST', path: `/v1/recordings/${receipt.id}/links`, token: sup,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'QA review of ticket 4411' }),
  });
  assert.equal(link.status, 201, link.body.toString());
  const media = new URL(link.json<{ url: string }>().url).pathname;
  const played = await request(base, { path: media });
  assert.equal(played.status, 200);
  assert.equal(sha256(played.body), sha256(sample), 'the link plays back the uploaded bytes');
  const firstKb = await request(base, { path: media, headers: { range: 'bytes=0-1023' } });
  assert.equal(firstKb.status, 206);
  assert.deepEqual(firstKb.body, sample.subarray(0, 1024));

  // The console's browser modules are part of the build `npm ci` made.
  const consoleModule = await request(base, { path: '/console/assets/lib/api.js' });
  assert.equal(consoleModule.status, 200);
  assert.match(String(consoleModule.headers['content-type']), /^text\/javascript/);
  assert.deepEqual(consoleModule.body, await readFile(path.join(REPO, 'src', 'console', 'assets', 'lib', 'api.js')));
  assert.equal((await request(base, { path: '/console/sign-in' })).status, 200, 'the development sign-in of an embedded first run');

  await server.stop();
  assert.equal(await stat(path.join(dataDir, 'postgres', 'postmaster.pid')).catch(() => null), null, `Ctrl-C shuts the database down:\n${server.output()}`);

  // Admin commands start the embedded database themselves, from the same place.
  await run('npx', ['callvault', 'migrate'], { cwd: clone, env });
  await run('npx', ['callvault', 'audit', 'verify'], { cwd: clone, env });
  await run('npx', ['callvault', 'retention', 'run', '--once', '--dry-run'], { cwd: clone, env });
  const keys = await run('npx', ['callvault', 'keys', 'status'], { cwd: clone, env });
  assert.match(keys.stdout, /^local:v1\t1$/m, 'the data key of the upload is in the database the server used');

  assert.equal((await stat(home)).mode & 0o777, 0o700, 'the private directory keeps its permissions');
  if (asRoot) {
    const link = await lstat(path.join(dataDir, 'postgres'));
    assert.ok(link.isSymbolicLink(), 'the cluster the postgres user could not reach in place lives in the runtime directory, linked from the data directory');
  }
});
