/** Shared pieces of the retention, legal-hold, erasure and key-rotation tests. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { AUDIT_LOG_LOCK_CLASS } from '../../src/audit/log-append.js';
import { advisoryLockKey } from '../../src/db/locks.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/http/logger.js';
import { openPlayback } from '../../src/media/playback.js';
import { objectKeys } from '../faults/support.js';
import { digestOf } from '../helpers/digest.js';
import { CLI_ARGS } from '../helpers/cli.js';
import { request, type HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { spawnVault, type VaultProcess } from '../helpers/process.js';
import { fixturePath, startVault, type FIXTURE_FILES, type TestVault } from '../helpers/vault.js';

import { waitFor } from '../helpers/wait.js';

export { waitFor };

export interface Receipt { id: string; callId: string; sha256: string; sizeBytes: number; policy: string; retainUntil: string; legalHold: boolean }

export async function upload(vault: TestVault, callId: string, opts: { fixture?: (typeof FIXTURE_FILES)[number]; body?: Buffer; query?: Record<string, string>; tenant?: string } = {}): Promise<Receipt> {
  const body = opts.body ?? await readFile(fixturePath(opts.fixture ?? 'call-ulaw-8k-mono.wav'));
  const qs = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
  const token = await vault.token('pbx', { tenant: opts.tenant });
  const res = await request(vault, { method: 'PUT', path: `/v1/recordings/${encodeURIComponent(callId)}${qs}`, body, token, headers: { 'content-type': 'audio/wav' } });
  assert.equal(res.status, 201, res.body.toString());
  return res.json<Receipt>();
}

/** A JSON request whose answer is checked against openapi.yaml before the test looks at it. */
export async function json(vault: TestVault, method: string, pathName: string, token: string, body?: unknown): Promise<HttpResponse> {
  const res = await request(vault, {
    method, path: pathName, token,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return assertContract(method, new URL(pathName, vault.url).pathname, res);
}

export async function putPolicy(vault: TestVault, name: string, retain: string, tenant = 'acme'): Promise<void> {
  const res = await json(vault, 'PUT', `/v1/retention-policies/${name}`, await vault.token('admin', { tenant }), { retain });
  assert.ok(res.status === 200 || res.status === 201, res.body.toString());
}

export interface AuditRow { seq: number; action: string; actor_sub: string; actor_role: string | null; recording_id: string | null; tenant: string | null; details: Record<string, unknown> }

export async function auditEvents(vault: TestVault, where: { action?: string; recordingId?: string } = {}): Promise<AuditRow[]> {
  const q = vault.deps.db('audit_events').select<AuditRow[]>('seq', 'action', 'actor_sub', 'actor_role', 'recording_id', 'tenant', 'details').orderBy('seq');
  if (where.action) q.where({ action: where.action });
  if (where.recordingId) q.where({ recording_id: where.recordingId });
  return q;
}

export interface RawRow {
  id: string; status: string; object_key: string | null; wrapped_key: Buffer | null; key_ref: string | null; crypto_header: Buffer | null;
  from_number: string | null; from_hash: string | null; agent_id: string | null; deleted_at: Date | null; deletion_reason: string | null;
  deletion_note: string | null; legal_hold: boolean; retain_until: Date | null; lease_owner: string | null; sha256: string; call_id: string; tenant: string;
}

/**
 * Ends recordings' retention on the database clock: for passes run in another process (the CLI),
 * whose `now` cannot be given, instead of waiting for a short policy to run out.
 */
export async function makeDue(vault: TestVault, ...ids: string[]): Promise<void> {
  await vault.deps.db('recordings').whereIn('id', ids).update({ retain_until: vault.deps.db.raw("least(retain_until, clock_timestamp() - interval '1 second')") });
}

export async function row(vault: TestVault, id: string): Promise<RawRow> {
  const r = await vault.deps.db<RawRow>('recordings').where({ id }).first();
  assert.ok(r, `row ${id} exists`);
  return r;
}

/** Environment for a `callvault` child process that shares the test vault's database, store and keys. */
export function childEnv(vault: TestVault, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    CALLVAULT_DATA_DIR: vault.dataDir, DATABASE_URL: vault.database.url, DATABASE_ADMIN_URL: vault.database.adminUrl,
    LOG_LEVEL: 'warn', RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off',
  };
  const storage = vault.config.storage;
  if (storage.driver === 's3') {
    Object.assign(env, {
      STORAGE_DRIVER: 's3', S3_BUCKET: storage.bucket, S3_ENDPOINT: storage.endpoint ?? '', S3_FORCE_PATH_STYLE: 'true', S3_REGION: storage.region,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER', AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
    });
  }
  const keys = vault.config.keys;
  if (keys.kind === 'aws-kms') {
    Object.assign(env, {
      KEY_PROVIDER: 'aws-kms', KMS_KEY_ID: keys.keyId, KMS_ENDPOINT: keys.endpoint ?? '', KMS_REGION: keys.region,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER', AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER',
    });
  }
  return { ...env, ...extra };
}

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export function spawnCli(vault: TestVault, args: string[], extra: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [...CLI_ARGS, ...args], { env: { ...process.env, ...childEnv(vault, extra) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  const done = new Promise<CliRun>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export async function runCli(vault: TestVault, args: string[], extra: Record<string, string> = {}): Promise<CliRun> {
  return spawnCli(vault, args, extra).done;
}

/** A superuser connection to the vault's database, for tests that play the part of an outside actor. */
export async function superuser(vault: TestVault): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: vault.database.superuserUrl });
  await c.connect();
  return c;
}

/**
 * A vault with a `short` (PT1S) policy and a superuser connection, for tests that reach into the
 * database as an outside actor (locks, triggers, clocks). `close` ends both.
 */
export interface ShortPolicyVault { readonly vault: TestVault; readonly su: pg.Client; close(): Promise<void> }

export async function openShortPolicyVault(): Promise<ShortPolicyVault> {
  const vault = await startVault();
  const su = await superuser(vault);
  await putPolicy(vault, 'short', 'PT1S');
  return { vault, su, close: async () => { await su.end(); await vault.close(); } };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface HeldUpload { readonly response: Promise<HttpResponse>; release(): void }

/**
 * A PUT whose body stops half-way until release(): an upload held open for as long as the test
 * needs, with its data key already generated once its temp file exists (see streamingUploads).
 */
export async function heldUpload(vault: TestVault, callId: string, body: Buffer): Promise<HeldUpload> {
  const stream = new PassThrough();
  const half = Math.floor(body.length / 2);
  const response = request(vault, {
    method: 'PUT', path: `/v1/recordings/${encodeURIComponent(callId)}`, body: stream, token: await vault.token('pbx'),
    headers: { 'content-type': 'audio/wav', 'content-length': String(body.length) },
  });
  stream.write(body.subarray(0, half));
  return { response, release: () => { stream.end(body.subarray(half)); } };
}

/** Puts streaming into the fs store right now: each has its temp file, opened after its data key was made. */
export async function streamingUploads(vault: TestVault): Promise<number> {
  return (await readdir(path.join(vault.dataDir, 'objects', '.tmp')).catch(() => [])).length;
}

/**
 * Backdates every file under `under` in the fs store by `ms`: objects and temp files as old as
 * that, for sweeps run in another process, without waiting out a grace period.
 */
export async function ageStoredFiles(vault: TestVault, under: 'recordings' | '.tmp', ms: number): Promise<void> {
  const dir = path.join(vault.dataDir, 'objects', under);
  const then = new Date(Date.now() - ms);
  for (const name of await readdir(dir, { recursive: true })) await utimes(path.join(dir, name), then, then);
}

/**
 * SHA-256 of each recording's playback through a freshly built set of dependencies: what a
 * restarted vault (nothing cached, master keys read from disk again) would serve.
 */
export async function playbackAfterRestart(vault: TestVault, tenant: string, ids: readonly string[]): Promise<Map<string, string>> {
  const deps: Deps = await createDeps(vault.config, createLogger('silent'));
  try {
    const out = new Map<string, string>();
    for (const id of ids) {
      const recording = await deps.recordings.findActive(tenant, id);
      assert.ok(recording, `recording ${id} is active`);
      out.set(id, (await digestOf(await openPlayback(deps, recording))).sha256);
    }
    return out;
  } finally {
    await deps.close();
  }
}

/**
 * The advisory lock that a tenant's audit appends wait for (its per-tenant log's, see
 * src/audit/log-append.ts), as the SQL that takes and releases it on a session: holding it
 * blocks an upload's commit or a retention tombstone at its audit event.
 */
export async function auditLogLock(vault: TestVault, tenant = 'acme'): Promise<{ readonly take: string; readonly release: string }> {
  const log = await vault.deps.auditLogs.resolve(tenant);
  const key = `${AUDIT_LOG_LOCK_CLASS}, ${log.logId}`;
  return { take: `SELECT pg_advisory_lock(${key})`, release: `SELECT pg_advisory_unlock(${key})` };
}

/** True while a session of the database waits for an advisory lock (e.g. a commit blocked by auditLogLock). */
export async function someoneAwaitsAdvisoryLock(su: pg.Client): Promise<boolean> {
  const waiting = await su.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`);
  return (waiting.rowCount ?? 0) > 0;
}

/**
 * Waits until a request has stored an object not in `before` and blocks in its commit on a held
 * advisory lock; returns that object's key.
 */
export async function storedAndBlockedInCommit(vault: TestVault, su: pg.Client, before: readonly string[], what: string): Promise<string> {
  let stored: string | undefined;
  await waitFor(what, async () => {
    stored = (await objectKeys(vault.deps.store)).find((k) => !before.includes(k));
    return stored !== undefined && await someoneAwaitsAdvisoryLock(su);
  });
  assert.ok(stored);
  return stored;
}

/**
 * Waits until the transactions of a killed process have rolled back: no session is left idle in
 * a transaction, except those that only hold a live process's uploads.liveness lock, which stay
 * open by design.
 */
export async function killedTransactionsRolledBack(su: pg.Client, what: string): Promise<void> {
  await waitFor(what, async () => {
    const busy = await su.query(`SELECT 1 FROM pg_stat_activity a WHERE datname = current_database() AND state = 'idle in transaction'
      AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.classid = ${advisoryLockKey('uploads.liveness')}::oid)`);
    return (busy.rowCount ?? 0) === 0;
  });
}

/**
 * Sends a request to a `serve` child process of `vault` while the tenant's audit log lock is held,
 * waits until the request has stored an object and blocks in its commit, SIGKILLs the child there
 * and releases the lock; returns the key of the object left behind.
 */
export async function killedInCommit(vault: TestVault, su: pg.Client, send: (server: VaultProcess) => Promise<unknown>, what: string): Promise<string> {
  const before = await objectKeys(vault.deps.store);
  const server = await spawnVault(childEnv(vault));
  const auditLock = await auditLogLock(vault);
  await su.query(auditLock.take);
  try {
    const pending = send(server).catch((err: unknown) => err);
    const stored = await storedAndBlockedInCommit(vault, su, before, what);
    await server.stop('SIGKILL');
    await pending;
    return stored;
  } finally {
    await su.query(auditLock.release);
  }
}
