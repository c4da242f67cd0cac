/** Shared pieces of the fault-injection tests: requests that survive cut connections, bodies, checks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { Readable } from 'node:stream';
import pg from 'pg';
import type { Db } from '../../src/db/knex.js';
import type { ObjectStore } from '../../src/storage/types.js';
import type { HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { fixturePath, type FIXTURE_FILES } from '../helpers/vault.js';
import { wavHeader } from '../helpers/audio.js';
import { digestOf } from '../helpers/digest.js';
import { waitFor } from '../helpers/wait.js';

export { waitFor };

export const MIB = 1024 * 1024;

export interface Target { readonly url: string; readonly ca: Buffer }

export interface Sent {
  readonly method?: string;
  readonly path: string;
  readonly token?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | Readable;
  /** No answer within this time fails the request (and so the test) instead of hanging it. */
  readonly timeoutMs?: number;
}

/**
 * One HTTPS request. Unlike test/helpers/http.ts it settles with the answer even when the server
 * answers before it has read the whole body and then closes the connection under the client's
 * feet (the way a 503 in the middle of an upload arrives); it rejects only when no answer came.
 */
export function send(target: Target, req: Sent): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  if (Buffer.isBuffer(req.body) && !('content-length' in headers)) headers['content-length'] = String(req.body.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const r = https.request(new URL(req.path, target.url), { method: req.method ?? 'GET', headers, ca: target.ca, agent: false }, (res) => {
      answered = true;
      if (req.body instanceof Readable) {
        req.body.unpipe(r);
        req.body.pause();
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body.toString('utf8')) as T });
      });
    });
    r.setTimeout(req.timeoutMs ?? 60_000, () => r.destroy(new Error(`no answer to ${req.method ?? 'GET'} ${req.path} in time`)));
    r.on('error', (err) => {
      if (req.body instanceof Readable) req.body.destroy();
      if (!answered) reject(err);
    });
    if (req.body instanceof Readable) req.body.pipe(r);
    else r.end(req.body);
  });
}

/** The 503 a failing dependency must produce: problem+json, the dependency's code, Retry-After, no internals. */
export function assertUnavailable(method: string, path: string, res: HttpResponse, code: 'storage_unavailable' | 'keys_unavailable' | 'database_unavailable' | 'audit_unavailable'): void {
  const text = res.body.toString('utf8');
  assert.equal(res.status, 503, `${method} ${path}: ${res.status} ${text}`);
  assertContract(method, path, res);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json<{ status: number; code: string; requestId: string; detail: string }>();
  assert.equal(problem.status, 503);
  assert.equal(problem.code, code, text);
  assert.equal(problem.requestId, res.headers['x-request-id']);
  assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After tells the client when to retry');
  assert.doesNotMatch(text, /ECONN|at [\w.]+ \(|insert into|select .* from|postgres|s3rver|TrentService/i, 'no internals in the answer');
}

/** /readyz while a dependency is down: 503 naming the failing check, the others still ok. */
export async function assertNotReady(target: Target, failing: 'database' | 'storage' | 'keys'): Promise<void> {
  const res = await send(target, { path: '/readyz' });
  assert.equal(res.status, 503, res.body.toString());
  const body = res.json<{ status: string; checks: Record<string, string> }>();
  assert.equal(body.status, 'unavailable');
  for (const [name, state] of Object.entries(body.checks)) assert.equal(state, name === failing ? 'unavailable' : 'ok', `${name}: ${JSON.stringify(body.checks)}`);
}

export async function assertReady(target: Target): Promise<void> {
  const res = await send(target, { path: '/readyz' });
  assert.equal(res.status, 200, res.body.toString());
}

/** Retries the readiness probe until it passes: connection pools and SDK clients recover at their own pace. */
export async function waitReady(target: Target, timeoutMs = 20_000): Promise<void> {
  await waitFor('/readyz to answer 200', async () => (await send(target, { path: '/readyz' }).catch(() => null))?.status === 200, timeoutMs);
}


export const fixture = (name: (typeof FIXTURE_FILES)[number]): Promise<Buffer> => readFile(fixturePath(name));

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface GeneratedWav {
  readonly stream: Readable;
  readonly size: number;
  /** SHA-256 of the whole body (valid once it has been produced). */
  digest(): string;
  produced(): number;
}

export interface WavPacing {
  /** Runs after each chunk with the bytes produced so far. */
  readonly onProgress?: (produced: number) => void;
  /** Asked before each chunk; a promise holds the body back until it settles. */
  readonly hold?: (produced: number) => Promise<void> | undefined;
}

/**
 * A PCM WAV of `size` bytes produced as it is read, from a seed, so that a large upload is never
 * held in memory and a retry with the same seed sends the same bytes.
 */
export function generatedWav(size: number, seed: number, pacing: WavPacing = {}): GeneratedWav {
  const header = wavHeader(size - 44);
  const hash = createHash('sha256');
  let produced = 0;
  let hex: string | undefined;
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = (): Buffer | null => {
    if (produced >= size) return null;
    const chunk = Buffer.alloc(Math.min(256 * 1024, size - produced));
    for (let i = 0; i + 4 <= chunk.length; i += 4) {
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
      chunk.writeUInt32LE(state, i);
    }
    if (produced === 0) header.copy(chunk, 0);
    hash.update(chunk);
    produced += chunk.length;
    pacing.onProgress?.(produced);
    return chunk;
  };
  const stream = new Readable({
    highWaterMark: 256 * 1024,
    read() {
      const held = pacing.hold?.(produced);
      if (held) held.then(() => this.push(next()), (err: unknown) => this.destroy(err as Error));
      else this.push(next());
    },
  });
  return { stream, size, produced: () => produced, digest: () => (hex ??= hash.digest('hex')) };
}

/** The SHA-256 a generated WAV of this size and seed has, without keeping its bytes. */
export async function generatedDigest(size: number, seed: number): Promise<string> {
  return (await digestOf(generatedWav(size, seed).stream)).sha256;
}

export { digestOf } from '../helpers/digest.js';

export interface Receipt { id: string; callId: string; sha256: string; sizeBytes: number; contentType: string }

/** Issues a link to the recording as a supervisor; returns the path of its /media URL. */
export async function issueLink(target: Target, supervisorToken: string, recordingId: string, opts: { singleUse?: boolean } = {}): Promise<string> {
  const res = await send(target, {
    method: 'POST', path: `/v1/recordings/${recordingId}/links`, token: supervisorToken, headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ reason: 'fault-injection check', ...(opts.singleUse ? { singleUse: true } : {}) })),
  });
  assert.equal(res.status, 201, res.body.toString());
  return new URL(res.json<{ url: string }>().url).pathname;
}

/** Plays a recording and checks every byte against what was uploaded. */
export async function assertPlays(target: Target, supervisorToken: string, recordingId: string, expected: { sha256: string; sizeBytes: number }, mediaPath?: string): Promise<void> {
  const res = await send(target, { path: mediaPath ?? await issueLink(target, supervisorToken, recordingId) });
  assert.equal(res.status, 200, res.body.toString().slice(0, 500));
  assert.equal(res.body.length, expected.sizeBytes);
  assert.equal(sha256(res.body), expected.sha256, `recording ${recordingId} plays byte for byte`);
}

export interface RowSummary { id: string; call_id: string; status: string; object_key: string | null; sha256: string; size_bytes: number }

export async function recordingRows(db: Db): Promise<RowSummary[]> {
  return db('recordings').select<RowSummary[]>('id', 'call_id', 'status', 'object_key', 'sha256', 'size_bytes').orderBy('call_id');
}

export async function objectKeys(store: Pick<ObjectStore, 'list'>, prefix = 'recordings/'): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** A superuser connection, to play the part of a failing database server. */
export async function superuser(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Ends every session of the vault's database but the caller's, as a crashing backend or failover would. */
export async function terminateSessions(su: pg.Client, where = 'true'): Promise<number> {
  const r = await su.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${where}`);
  return r.rowCount ?? 0;
}

/**
 * Holds a lock that lets reads through but makes the upload's INSERT wait, so that a test can act
 * at the exact moment between "object stored" and "row committed". Resolves with the waiting
 * backend's pid once the commit is blocked on it.
 */
export async function holdCommits(su: pg.Client): Promise<{ blockedPid(): Promise<number>; release(): Promise<void> }> {
  await su.query('BEGIN');
  await su.query('LOCK TABLE recordings IN SHARE MODE');
  return {
    blockedPid: async () => {
      let pid = 0;
      await waitFor('the commit to block on the lock', async () => {
        // The INSERT takes its lock while it is parsed, before pg_stat_activity shows its text: ask pg_locks.
        const r = await su.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE relation = 'recordings'::regclass AND NOT granted`);
        pid = r.rows[0]?.pid ?? 0;
        return pid !== 0;
      });
      return pid;
    },
    release: async () => { await su.query('ROLLBACK'); },
  };
}
