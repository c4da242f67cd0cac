import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import { verifyTable } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/http/logger.js';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { spawnVault, type VaultProcess } from '../helpers/process.js';
import { FIXTURE_FILES } from '../helpers/vault.js';
import { scratchDir } from '../helpers/scratch.js';
import {
  MIB, assertPlays, fixture, generatedDigest, generatedWav, holdCommits, objectKeys, send, sha256, superuser, waitFor, waitReady, type Receipt,
} from './support.js';
import { isGone, powerCut } from './process-tree.js';

/**
 * `callvault serve` in embedded mode (its own PostgreSQL child, the filesystem store, local
 * keys) loses power in the middle of 20 concurrent uploads: the whole process tree is frozen and
 * SIGKILLed at once. The next start on the same data directory must come up by itself, keep
 * every upload it answered 201, show no recording that is not complete, and leave nothing the
 * orphan sweep does not remove.
 *
 * A row may commit and the process die before its 201 reaches the client. That recording is
 * legitimate (the PBX, having no answer, retries and gets 200 with the same receipt), so rows
 * beyond the 201 set are allowed only for uploads that were in flight at the cut, and only when
 * every byte they hold is the upload's.
 */

interface Upload {
  readonly callId: string;
  readonly sizeBytes: number;
  readonly sha256: () => Promise<string>;
  /** The same bytes again, for the PBX's retry. */
  readonly body: () => Buffer | Readable;
  outcome: { status: number; receipt?: Receipt } | { error: string } | null;
}

const SMALL = 12;
const LARGE = 8;
/** Large uploads that stop sending half-way until after the cut: always mid-flight when the power goes. */
const HELD = 4;

let dataDir: string | undefined;
let running: VaultProcess | undefined;
let deps: Deps | undefined;
let su: pg.Client | undefined;

/** A superuser session on the embedded server of a running vault, from what its data directory holds. */
async function embeddedSuperuser(dir: string): Promise<pg.Client> {
  const port = Number((await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[3]);
  const password = (await readFile(path.join(dir, 'secrets', 'postgres-superuser.password'), 'utf8')).trim();
  return superuser(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/callvault`);
}

after(async () => {
  await su?.end().catch(() => undefined);
  if (running && running.child.exitCode === null) powerCut(running.child.pid!);
  await deps?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Traffic {
  readonly uploads: Upload[];
  readonly inFlight: Array<Promise<void>>;
  /** Resolves once every held upload sits half-way. */
  readonly held: Promise<unknown>;
  release(): void;
}

/** 12 fixtures, 4 large bodies held half-way, 4 free large bodies, all at once. */
function startUploads(target: VaultProcess, pbx: string, fixtures: Buffer[]): Traffic {
  const uploads: Upload[] = [];
  const inFlight: Array<Promise<void>> = [];
  const gates: Array<() => void> = [];
  const reached: Array<Promise<void>> = [];
  const put = (u: Upload, body: Buffer | Readable): void => {
    uploads.push(u);
    const headers = { 'content-type': 'audio/wav', 'content-length': String(u.sizeBytes) };
    inFlight.push(send(target, { method: 'PUT', path: `/v1/recordings/${u.callId}`, token: pbx, body, headers }).then(
      (res) => { u.outcome = { status: res.status, ...(res.status === 201 ? { receipt: res.json<Receipt>() } : {}) }; },
      (err: unknown) => { u.outcome = { error: String(err) }; },
    ));
  };
  for (let i = 0; i < SMALL; i++) {
    const body = fixtures[i % fixtures.length]!;
    put({ callId: `small-${i}`, sizeBytes: body.length, sha256: async () => sha256(body), body: () => body, outcome: null }, body);
  }
  for (let i = 0; i < LARGE; i++) {
    const size = (2 + i) * MIB;
    const seed = 1000 + i;
    let hold: ((produced: number) => Promise<void> | undefined) | undefined;
    if (i < HELD) {
      let arrived!: () => void;
      reached.push(new Promise<void>((r) => { arrived = r; }));
      const gate = new Promise<void>((r) => gates.push(r));
      hold = (produced) => (produced >= size / 2 ? (arrived(), gate) : undefined);
    }
    put(
      { callId: `large-${i}`, sizeBytes: size, sha256: () => generatedDigest(size, seed), body: () => generatedWav(size, seed).stream, outcome: null },
      generatedWav(size, seed, { hold }).stream,
    );
  }
  return { uploads, inFlight, held: Promise.all(reached), release: () => { for (const g of gates) g(); } };
}

/**
 * Waits for the worst moment: the small uploads answered, the held ones half-way, the first free
 * large one answered and, with commits held back by a lock, the next one to finish its body
 * stored as an object and waiting for its row. Then the power goes. Returns whether a commit was
 * caught waiting (there may be no free upload left to catch).
 */
async function cutAtTheWorstMoment(vault: VaultProcess, dir: string, traffic: Traffic): Promise<{ blocked: boolean; killed: number }> {
  await Promise.all(traffic.inFlight.slice(0, SMALL));
  await traffic.held;
  const free = traffic.inFlight.slice(SMALL + HELD);
  await Promise.race(free);
  su = await embeddedSuperuser(dir);
  const commits = await holdCommits(su);
  let settled = 0;
  for (const p of free) void p.then(() => { settled++; });
  const blocked = await Promise.race([
    commits.blockedPid().then(() => true, () => false),
    waitFor('the free uploads to settle', async () => settled === free.length, 60_000).then(() => false, () => false),
  ]);
  const exited = new Promise<void>((r) => (vault.child.exitCode !== null ? r() : vault.child.once('exit', () => r())));
  const killed = powerCut(vault.child.pid!);
  await exited;
  await waitFor('every killed process to be gone', async () => killed.every(isGone), 10_000);
  traffic.release();
  await Promise.all(traffic.inFlight);
  await su.end().catch(() => undefined);
  su = undefined;
  return { blocked, killed: killed.length };
}

const receiptOf = (u: Upload): Receipt => (u.outcome as { receipt: Receipt }).receipt;

/**
 * After the restart: every 201 plays byte for byte; any other recording listed belongs to an
 * upload cut off in flight, is complete, plays, and answers the PBX's retry with 200. Returns the
 * ids of every recording listed.
 */
async function checkRecordings(vault: VaultProcess, pbx: string, sup: string, ok: Upload[], cut: Upload[]): Promise<{ ids: string[]; extras: number }> {
  for (const u of ok) {
    assert.equal(receiptOf(u).sha256, await u.sha256(), `${u.callId}: the receipt's digest is the body's`);
    await assertPlays(vault, sup, receiptOf(u).id, receiptOf(u));
  }
  const listed = await send(vault, { path: '/v1/recordings?limit=500', token: sup });
  assert.equal(listed.status, 200, listed.body.toString());
  const items = listed.json<{ items: Receipt[] }>().items;
  const okIds = new Set(ok.map((u) => receiptOf(u).id));
  const extras = items.filter((r) => !okIds.has(r.id));
  assert.equal(items.length - extras.length, ok.length, 'every 201 is listed');
  for (const extra of extras) {
    const upload = cut.find((u) => u.callId === extra.callId);
    assert.ok(upload, `row ${extra.callId} belongs to no upload in flight at the cut`);
    assert.equal(extra.sizeBytes, upload.sizeBytes, `${extra.callId} is complete`);
    assert.equal(extra.sha256, await upload.sha256(), `${extra.callId} holds the upload's bytes`);
    await assertPlays(vault, sup, extra.id, extra);
    const retried = await send(vault, {
      method: 'PUT', path: `/v1/recordings/${extra.callId}`, token: pbx, body: upload.body(),
      headers: { 'content-type': 'audio/wav', 'content-length': String(upload.sizeBytes) },
    });
    assert.equal(retried.status, 200, 'the PBX\'s retry of an upload whose answer was lost gets the same receipt');
    assert.equal(retried.json<Receipt>().id, extra.id);
  }
  return { ids: items.map((r) => r.id), extras: extras.length };
}

/** The database, store and audit chain as they stand, and the orphan sweep with no grace period. */
async function checkStore(d: Deps, dir: string, listedIds: string[], commitWasCaught: boolean): Promise<void> {
  const rows = await d.db('recordings').select<Array<{ id: string; status: string; object_key: string }>>('id', 'status', 'object_key');
  assert.deepEqual(rows.map((r) => r.id).sort(), [...listedIds].sort(), 'no other row exists, in any state');
  assert.ok(rows.every((r) => r.status === 'active'));
  const tmp = path.join(dir, 'objects', '.tmp');
  const partial = await readdir(tmp).catch(() => []);
  assert.ok(partial.length >= HELD, `the uploads cut off left partial files (${partial.length})`);
  const referenced = rows.map((r) => r.object_key).sort();
  const orphans = (await objectKeys(d.store)).filter((k) => !referenced.includes(k));
  if (commitWasCaught) assert.ok(orphans.length >= 1, 'the upload cut between its object and its row left an object without a row');
  const swept = await runOrphanSweep(d, new Date(Date.now() + 1_000), { graceMs: 0 });
  assert.deepEqual([...swept.keys].sort(), orphans);
  assert.deepEqual(await objectKeys(d.store), referenced, 'every object left belongs to a row');
  assert.deepEqual(await readdir(tmp).catch(() => []), [], 'no partial upload is left on disk');
  const chain = await verifyTable(d.db, undefined);
  assert.ok(chain.ok, chain.reason);
}

test('SIGKILL of the whole embedded process tree during 20 concurrent uploads: restart comes up by itself, every 201 plays, no other row, the orphan sweep removes the rest', async (t) => {
  dataDir = await scratchDir('callvault-powercut-');
  // Embedded mode: nothing but the data directory (and the port) configured.
  const env: Record<string, string> = {
    CALLVAULT_DATA_DIR: dataDir, EMBEDDED_DATABASE_PORT: '0', DATABASE_URL: '', DATABASE_ADMIN_URL: '', STORAGE_DRIVER: '',
    S3_BUCKET: '', KEY_PROVIDER: '', KMS_KEY_ID: '', CALLVAULT_MODE: '',
  };
  const config = loadConfig({ CALLVAULT_DATA_DIR: dataDir });
  const tokenFor = (role: 'pbx' | 'supervisor') => mintDevToken(config.jwt.devSigningKey!.file, {
    tenant: 'acme', roles: [role], sub: `${role}-1`, issuer: config.jwt.issuer, audience: config.jwt.audience,
  });
  const fixtures = await Promise.all(FIXTURE_FILES.map((f) => fixture(f)));

  running = await spawnVault(env, { timeoutMs: 90_000 });
  const pbx = await tokenFor('pbx');
  const traffic = startUploads(running, pbx, fixtures);
  const { blocked, killed } = await cutAtTheWorstMoment(running, dataDir, traffic);
  running = undefined;
  assert.ok(killed > 3, `the vault and its database processes were killed (${killed} processes)`);
  const ok = traffic.uploads.filter((u) => u.outcome && 'status' in u.outcome && u.outcome.status === 201);
  const cut = traffic.uploads.filter((u) => !ok.includes(u));
  for (const u of traffic.uploads) {
    if (u.outcome && 'status' in u.outcome) assert.equal(u.outcome.status, 201, `${u.callId} was answered, and only 201 is acceptable before the cut`);
  }
  assert.ok(ok.length > SMALL, 'the small uploads and at least one large one were answered before the cut');
  assert.ok(cut.length >= HELD, 'the held uploads were cut off');

  // The next start on the same data directory, with nothing done by hand.
  running = await spawnVault(env, { timeoutMs: 90_000 });
  await waitReady(running, 30_000);
  const listed = await checkRecordings(running, pbx, await tokenFor('supervisor'), ok, cut);
  t.diagnostic(`${ok.length} answered 201, ${cut.length} cut off, ${listed.extras} committed with the answer lost; ${killed} processes killed`);
  assert.equal(await running.stop('SIGTERM'), 0, 'a clean stop after the restart');
  running = undefined;

  deps = await createDeps(loadConfig(env), createLogger('silent'));
  await checkStore(deps, dataDir, listed.ids, blocked);
});
