import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { loadPublicKey, publicKeyPathFor } from '../../src/audit/anchors.js';
import { logEventLeaf } from '../../src/audit/canonical.js';
import { verifyCheckpoint, verifyCheckpointConsistency } from '../../src/audit/checkpoint.js';
import { verifyInclusion } from '../../src/audit/merkle.js';
import type { LogEvent } from '../../src/audit/types.js';
import { call, issueLink, play, tinyWav, upload, type Receipt } from '../access/support.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { waitFor } from '../helpers/wait.js';
import { sql } from './support.js';
import type { KeyObject } from 'node:crypto';

interface Checkpoint { log: string; size: number; rootHash: string; signedAt: string; checkpoint: string }
interface EventLine extends Omit<LogEvent, 'at'> { at: string; proof?: { treeSize: number; hashes: string[] } }
interface History { recordingId: string; log: string; checkpoint: Checkpoint; events: EventLine[]; next: number | null }

const leafOf = (e: EventLine): Buffer => logEventLeaf({ ...e, at: new Date(e.at) });
const bytes = (hashes: readonly string[]): Buffer[] => hashes.map((h) => Buffer.from(h, 'hex'));

describe('per-tenant audit log endpoints', () => {
  let vault: TestVault;
  let compliance: string;
  let publicKey: KeyObject;
  let recording: Receipt;
  before(async () => {
    vault = await startVault();
    compliance = await vault.token('compliance');
    publicKey = await loadPublicKey(publicKeyPathFor(vault.config.audit.anchorKey.file));
    recording = await upload(vault, await vault.token('pbx'), 'history-1', tinyWav(1));
    await upload(vault, await vault.token('pbx'), 'history-2', tinyWav(2));
    const supervisor = await vault.token('supervisor');
    await call(vault, { path: `/v1/recordings/${recording.id}`, token: supervisor });
    const link = await issueLink(vault, supervisor, recording.id);
    assert.equal((await play(vault, link, { range: 'bytes=0-15' })).status, 206);
  });
  after(async () => { await vault.close(); });

  test("a recording's access history: every event about it, chained from the upload, each proven in the signed tree", async () => {
    const res = await call(vault, { path: `/v1/recordings/${recording.id}/access-history`, token: compliance });
    assert.equal(res.status, 200, res.body.toString());
    const history = res.json<History>();
    const checkpoint = verifyCheckpoint(history.checkpoint.checkpoint, publicKey, history.log);
    assert.equal(history.log, `${vault.config.audit.namespace}/tenant/acme`);
    assert.deepEqual(history.events.map((e) => e.action), ['recording.uploaded', 'recording.viewed', 'link.issued', 'media.read', 'audit.exported']);
    let prev: number | null = null;
    for (const e of history.events) {
      assert.equal(e.recordingId, recording.id);
      assert.equal(e.recordingPrev, prev, `event ${e.logSeq} links to the previous event about the recording`);
      assert.equal(e.proof?.treeSize, checkpoint.size);
      assert.ok(verifyInclusion(e.logSeq - 1, checkpoint.size, leafOf(e), bytes(e.proof.hashes), checkpoint.rootHash), `event ${e.logSeq} is in the tree`);
      prev = e.logSeq;
    }
    // The read is in its own history, so the checkpoint covers the log up to and including it.
    assert.equal(history.events.at(-1)?.logSeq, checkpoint.size);
    const page = (await call(vault, { path: `/v1/recordings/${recording.id}/access-history?limit=2`, token: compliance })).json<History>();
    assert.deepEqual(page.events.map((e) => e.action), ['recording.uploaded', 'recording.viewed']);
    assert.equal(page.next, page.events[1]?.logSeq);
  });

  test('another tenant, or a role without audit:export, learns nothing', async () => {
    const globex = await vault.token('compliance', { tenant: 'globex' });
    for (const path of [`/v1/recordings/${recording.id}/access-history`, '/v1/audit-checkpoints/latest', '/v1/audit-events/1/proof?size=1']) {
      assert.equal((await call(vault, { path, token: globex })).status, 404, path);
      assert.equal((await call(vault, { path, token: await vault.token('supervisor') })).status, 403, path);
    }
    assert.equal((await call(vault, { path: '/v1/recordings/00000000-0000-4000-8000-000000000000/access-history', token: compliance })).status, 404);
  });

  test('checkpoints by size, as JSON or as the signed note; consistency and inclusion proofs that verify against them', async () => {
    const older = (await call(vault, { path: '/v1/audit-checkpoints/latest', token: compliance })).json<Checkpoint>();
    await call(vault, { path: `/v1/recordings/${recording.id}/access-history`, token: compliance });
    const latest = await call(vault, { path: '/v1/audit-checkpoints/latest', token: compliance });
    const newer = latest.json<Checkpoint>();
    assert.ok(newer.size > older.size);
    const note = await call(vault, { path: `/v1/audit-checkpoints?size=${older.size}`, token: compliance, headers: { accept: 'text/plain' } });
    assert.equal(note.status, 200);
    assert.match(String(note.headers['content-type']), /^text\/plain/);
    assert.equal(note.body.toString('utf8'), older.checkpoint);
    assert.equal((await call(vault, { path: `/v1/audit-checkpoints?size=${newer.size + 1000}`, token: compliance })).status, 404);

    const consistency = await call(vault, { path: `/v1/audit-checkpoints/consistency?from=${older.size}&to=${newer.size}`, token: compliance });
    assert.equal(consistency.status, 200);
    verifyCheckpointConsistency(older.checkpoint, newer.checkpoint, bytes(consistency.json<{ hashes: string[] }>().hashes), publicKey);
    assert.equal((await call(vault, { path: `/v1/audit-checkpoints/consistency?from=3&to=2`, token: compliance })).status, 400);
    assert.equal((await call(vault, { path: `/v1/audit-checkpoints/consistency?from=1&to=${newer.size + 1000}`, token: compliance })).status, 404);

    const history = (await call(vault, { path: `/v1/recordings/${recording.id}/access-history`, token: compliance })).json<History>();
    const first = history.events[0]!;
    const proof = await call(vault, { path: `/v1/audit-events/${first.logSeq}/proof`, token: compliance });
    assert.equal(proof.status, 200);
    const body = proof.json<{ treeSize: number; leafHash: string; hashes: string[] }>();
    const signed = verifyCheckpoint(history.checkpoint.checkpoint, publicKey);
    assert.equal(body.treeSize, signed.size, 'defaults to the newest checkpoint');
    assert.equal(body.leafHash, leafOf(first).toString('hex'));
    assert.ok(verifyInclusion(first.logSeq - 1, body.treeSize, leafOf(first), bytes(body.hashes), signed.rootHash));
    for (const bad of [`/v1/audit-events/${signed.size + 1}/proof`, `/v1/audit-events/1/proof?size=${signed.size + 1000}`, '/v1/audit-events/0/proof']) {
      assert.equal((await call(vault, { path: bad, token: compliance })).status, 404, bad);
    }
  });

  test('follow mode sends new events as they commit, resumes after any logSeq, and lets go when the client leaves', async () => {
    const first = await follow(vault, compliance, 0);
    try {
      await first.waitFor((lines) => lines.some((l) => l.action === 'audit.exported' && (l.details as { follow?: boolean }).follow === true));
      await call(vault, { path: `/v1/recordings/${recording.id}`, token: await vault.token('supervisor', { sub: 'late-viewer' }) });
      const seen = await first.waitFor((lines) => lines.some((l) => l.actorSub === 'late-viewer'));
      assert.deepEqual(seen.map((l) => l.logSeq), Array.from({ length: seen.length }, (_, i) => i + 1), 'every event, in order, without gaps');
    } finally {
      first.close();
    }
    const slots = vault.deps.auditExport.slots;
    await waitFor('the follower to release its export slot', () => Promise.resolve(slots.held('acme\u0000compliance-1') === 0), 5_000);
    const resumed = await follow(vault, compliance, 3);
    try {
      const lines = await resumed.waitFor((l) => l.length > 0);
      assert.equal(lines[0]?.logSeq, 4);
    } finally {
      resumed.close();
    }
    assert.equal((await call(vault, { path: '/v1/audit-events?follow=true&format=csv', token: compliance })).status, 400);
    assert.equal((await call(vault, { path: '/v1/audit-events?follow=true&after=-1', token: compliance })).status, 400);
  });
});

interface Follower {
  waitFor(done: (lines: EventLine[]) => boolean): Promise<EventLine[]>;
  close(): void;
}

async function follow(vault: TestVault, token: string, after: number): Promise<Follower> {
  const lines: EventLine[] = [];
  let buffer = '';
  const req = https.get(new URL(`/v1/audit-events?follow=true&after=${after}`, vault.url), { ca: vault.ca, agent: false, headers: { authorization: `Bearer ${token}` } });
  const res = await new Promise<IncomingMessage>((resolve, reject) => { req.once('response', resolve); req.once('error', reject); });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
  res.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    // Empty lines are the stream's keep-alives.
    for (const p of parts) if (p !== '') lines.push(JSON.parse(p) as EventLine);
  });
  res.on('error', () => undefined);
  return {
    waitFor: async (done) => {
      await waitFor('the followed lines', () => Promise.resolve(done(lines)), 10_000);
      return lines;
    },
    close: () => { req.destroy(); },
  };
}

describe('a tenant log edited behind the vault\'s back', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(async () => { await vault.close(); });

  test('an export that finds an event no longer matching its hash answers 500 (an alarm, logged), not 503 (retry later)', async () => {
    const compliance = await vault.token('compliance');
    const recording = await upload(vault, await vault.token('pbx'), 'edited-1', tinyWav(1));
    assert.equal((await call(vault, { path: '/v1/audit-events', token: compliance })).status, 200, 'signs a checkpoint');
    assert.equal((await call(vault, { path: `/v1/recordings/${recording.id}`, token: await vault.token('supervisor') })).status, 200);
    await sql(vault.database.superuserUrl, `SET session_replication_role = replica;
      UPDATE audit_events SET details = '{"edited": true}' WHERE action = 'recording.viewed' AND recording_id = '${recording.id}'`);
    const res = await call(vault, { path: '/v1/audit-events', token: compliance });
    assert.equal(res.status, 500, res.body.toString());
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.ok(res.json<{ requestId?: string }>().requestId);
  });
});
