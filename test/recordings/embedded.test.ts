import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tinyWav } from '../access/support.js';
import { descendants, isGone } from '../faults/process-tree.js';
import { CLI_ARGS } from '../helpers/cli.js';
import { request } from '../helpers/http.js';
import { spawnVault, type VaultProcess } from '../helpers/process.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * The newcomer's first run, twice over: `callvault serve` with nothing configured but a data
 * directory, two of them side by side. Each runs its own PostgreSQL on its own port, shuts it
 * down cleanly on SIGTERM, and finds its state again on the next start.
 */
const run = promisify(execFile);

/** Embedded mode: whatever the test runner's environment holds, no external database. */
const embeddedEnv = (dataDir: string, extra: Record<string, string> = {}): Record<string, string> => ({
  CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: '', DATABASE_ADMIN_URL: '', RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off', ...extra,
});

async function token(dataDir: string, role: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...CLI_ARGS, 'token', '--tenant', 'acme', '--role', role, '--sub', `${role}-1`], {
    env: { ...process.env, ...embeddedEnv(dataDir) },
  });
  return stdout.trim();
}

/** pid and port of the PostgreSQL server running on `dataDir`, from its lock file. */
async function postmaster(dataDir: string): Promise<{ pid: number; port: number }> {
  const lines = (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

/** Live processes whose command line names this data directory (a postgres left behind would). */
function processesOn(dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(path.join(dataDir, 'postgres')) && !isGone(Number(entry))) found.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

describe('embedded mode', () => {
  const dirs: string[] = [];
  const started: VaultProcess[] = [];

  const start = async (dataDir: string, extra: Record<string, string> = {}): Promise<VaultProcess> => {
    const vault = await spawnVault(embeddedEnv(dataDir, extra), { timeoutMs: 90_000 });
    started.push(vault);
    return vault;
  };

  after(async () => {
    for (const v of started) await v.stop('SIGKILL');
    for (const dir of dirs) {
      for (const pid of processesOn(dir)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('two vaults side by side, clean shutdown on SIGTERM, state kept across a restart', async () => {
    for (let i = 0; i < 2; i++) dirs.push(await scratchDir(`callvault-embedded-${i}-`));
    const vaults = await Promise.all(dirs.map((dir) => start(dir)));

    const databases = await Promise.all(dirs.map(postmaster));
    assert.notEqual(databases[0]?.port, databases[1]?.port, 'each vault runs its own database on its own port');
    const receipts: string[] = [];
    for (const [i, vault] of vaults.entries()) {
      const db = databases[i];
      assert.ok(db);
      assert.ok(descendants(vault.child.pid ?? 0).includes(db.pid), 'the database is a child of its vault');
      const ready = await request(vault, { path: '/readyz' });
      assert.equal(ready.status, 200, ready.body.toString());
      const dir = dirs[i] ?? '';
      const res = await request(vault, { method: 'PUT', path: `/v1/recordings/first-run-${i}.wav`, body: tinyWav(i + 1), token: await token(dir, 'pbx') });
      assert.equal(res.status, 201, res.body.toString());
      receipts.push(res.json<{ id: string }>().id);
    }

    for (const [i, vault] of vaults.entries()) {
      const dir = dirs[i] ?? '';
      const db = databases[i];
      assert.ok(db);
      assert.equal(await vault.stop('SIGTERM'), 0, vault.output());
      assert.ok(isGone(db.pid), 'the database server exited with its vault');
      assert.deepEqual(processesOn(dir), [], 'no process left on the data directory');
      await assert.rejects(stat(path.join(dir, 'postgres', 'postmaster.pid')), 'a clean shutdown removes the lock file');
    }

    // PostgreSQL says on start whether it was shut down cleanly or has to recover from a crash.
    const again = await start(dirs[0] ?? '', { LOG_LEVEL: 'debug' });
    assert.match(again.output(), /database system was shut down at/);
    assert.doesNotMatch(again.output(), /was interrupted|automatic recovery/);
    const list = await request(again, { path: '/v1/recordings', token: await token(dirs[0] ?? '', 'supervisor') });
    assert.equal(list.status, 200, list.body.toString());
    assert.deepEqual(list.json<{ items: { id: string; callId: string }[] }>().items.map((r) => [r.id, r.callId]), [[receipts[0], 'first-run-0']]);
    assert.equal(await again.stop('SIGTERM'), 0, again.output());
  });

  test('the data directory holds the master key (mode 0600) and an EC P-256 certificate for localhost', async () => {
    const dir = dirs[0];
    assert.ok(dir, 'runs after the first test');
    const keys = (await readdir(path.join(dir, 'keys'))).filter((f) => /^master-v\d+\.key$/.test(f));
    assert.deepEqual(keys, ['master-v1.key']);
    assert.equal((await stat(path.join(dir, 'keys', 'master-v1.key'))).mode & 0o777, 0o600);

    const cert = new X509Certificate(await readFile(path.join(dir, 'tls', 'server.crt')));
    const sans = (cert.subjectAltName ?? '').split(',').map((s) => s.trim());
    assert.ok(sans.includes('DNS:localhost'), cert.subjectAltName);
    assert.ok(sans.includes('IP Address:127.0.0.1'), cert.subjectAltName);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal((await stat(path.join(dir, 'tls', 'server.key'))).mode & 0o777, 0o600);
  });

  test('data/objects/ exists, every directory of the data directory is private, and the banner is the README\'s', async () => {
    const dir = dirs[0];
    const first = started.find((v) => dir !== undefined && v.output().includes(`data directory: ${dir}\n`));
    assert.ok(dir && first, 'runs after the first test');
    assert.ok((await stat(path.join(dir, 'objects'))).isDirectory(), 'data/objects/ exists after the first start');
    const loose: string[] = [];
    const walk = async (at: string): Promise<void> => {
      for (const entry of await readdir(at, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const full = path.join(at, entry.name);
        if (((await stat(full)).mode & 0o777) !== 0o700) loose.push(path.relative(dir, full));
        if (full !== path.join(dir, 'postgres')) await walk(full); // PostgreSQL keeps its own cluster at 0700
      }
    };
    await walk(dir);
    assert.ok(loose.length === 0, `not mode 0700: ${loose.join(', ')}`);
    assert.ok((await readdir(path.join(dir, 'objects'))).some((name) => name !== '.tmp'), 'the uploaded recording is under objects/');
    const top = (await stat(dir)).mode & 0o777;
    // As root, the embedded server runs as a system user that must be able to pass through.
    if (process.getuid?.() === 0) assert.equal(top & 0o066, 0, `data directory mode ${top.toString(8)}`);
    else assert.equal(top, 0o700, `data directory mode ${top.toString(8)}`);

    const readme = await readFile(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const shown = /You will see[^\n]*:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(shown, 'the README shows the banner');
    const printed = first.output().split(first.url).join('https://localhost:8443').split(dir).join('/path/to/data');
    assert.ok(printed.includes(`\n${shown}\n`), `the banner differs from the README:\n${printed}`);
  });
});
