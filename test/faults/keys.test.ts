import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KmsDouble } from '../helpers/kms-double.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import {
  assertNotReady, assertPlays, assertReady, assertUnavailable, fixture, issueLink, objectKeys, recordingRows, send, sha256, type Receipt,
} from './support.js';

const TIMEOUT_MS = 500;
const ATTEMPTS = 2;
/** What a call may take beyond timeout × attempts: the SDK's backoff between attempts and the request's own work. */
const SLACK_MS = 1_500;

/**
 * The real KMS client against a KMS double that fails (500), throttles or never answers. With
 * KMS_REQUEST_TIMEOUT_MS and KMS_MAX_ATTEMPTS small, an upload or a playback whose key call
 * fails gives 503 keys_unavailable within timeout × attempts, and nothing is kept or consumed.
 */
describe('the key service failing or hanging', () => {
  let vault: TestVault;
  let kms: KmsDouble;
  let pbx: string;
  let sup: string;
  const committed: Receipt[] = [];

  const put = (callId: string, body: Buffer) => send(vault, {
    method: 'PUT', path: `/v1/recordings/${callId}`, token: pbx, body, headers: { 'content-type': 'audio/wav' },
  });

  const uploaded = async (callId: string, body: Buffer): Promise<Receipt> => {
    const res = await put(callId, body);
    assert.equal(res.status, 201, res.body.toString());
    const receipt = res.json<Receipt>();
    committed.push(receipt);
    return receipt;
  };

  const callsOf = (op: string): number => kms.calls[op] ?? 0;

  before(async () => {
    // READINESS_KEY_CHECK_SECONDS=0: /readyz asks the key service on each probe, so a fault shows at once.
    vault = await startVault({ keys: 'aws-kms', env: { KMS_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), KMS_MAX_ATTEMPTS: String(ATTEMPTS), READINESS_KEY_CHECK_SECONDS: '0' } });
    assert.ok(vault.kms);
    kms = vault.kms;
    pbx = await vault.token('pbx');
    sup = await vault.token('supervisor');
    await uploaded('committed-before-faults', await fixture('call-pcm16-8k-stereo.wav'));
  });
  after(async () => { await vault?.close(); });

  for (const kind of ['internal', 'hang'] as const) {
    test(`upload while every GenerateDataKey attempt ${kind === 'hang' ? 'hangs' : 'fails'}: 503 keys_unavailable within timeout × attempts, nothing kept; the retry is 201 then 200`, async () => {
      const body = await fixture('call-ulaw-8k-mono.wav');
      const callId = `kms-${kind}-on-upload`;
      const objectsBefore = await objectKeys(vault.deps.store);
      const generated = callsOf('GenerateDataKey');
      kms.failNext(ATTEMPTS, kind);
      const t0 = Date.now();
      const res = await put(callId, body);
      const elapsed = Date.now() - t0;
      assertUnavailable('PUT', `/v1/recordings/${callId}`, res, 'keys_unavailable');
      assert.equal(callsOf('GenerateDataKey') - generated, ATTEMPTS, 'KMS_MAX_ATTEMPTS attempts, no more');
      if (kind === 'hang') assert.ok(elapsed >= TIMEOUT_MS * ATTEMPTS, `each attempt waited KMS_REQUEST_TIMEOUT_MS (${elapsed} ms)`);
      assert.ok(elapsed < TIMEOUT_MS * ATTEMPTS + SLACK_MS, `bounded by KMS_REQUEST_TIMEOUT_MS × KMS_MAX_ATTEMPTS (${elapsed} ms)`);
      assert.equal((await recordingRows(vault.deps.db)).some((r) => r.call_id === callId), false);
      assert.deepEqual(await objectKeys(vault.deps.store), objectsBefore);

      const retry = await put(callId, body);
      assert.equal(retry.status, 201, retry.body.toString());
      const receipt = retry.json<Receipt>();
      committed.push(receipt);
      const again = await put(callId, body);
      assert.equal(again.status, 200, again.body.toString());
      assert.equal(again.json<Receipt>().id, receipt.id);
    });
  }

  test('a throttled GenerateDataKey is retried by the client (a fresh data key is as good as the first): 201', async () => {
    const body = await fixture('call-8k-mono.mp3');
    const generated = callsOf('GenerateDataKey');
    kms.failNext(1, 'throttle');
    const res = await put('kms-throttled-once', body);
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(callsOf('GenerateDataKey') - generated, 2);
    const receipt = res.json<Receipt>();
    committed.push(receipt);
    await assertPlays(vault, sup, receipt.id, { sha256: sha256(body), sizeBytes: body.length });
  });

  for (const kind of ['internal', 'hang'] as const) {
    test(`playback while every Decrypt attempt ${kind === 'hang' ? 'hangs' : 'fails'}: 503 keys_unavailable within timeout × attempts; the single-use link is not used up and plays afterwards`, async () => {
      const body = await fixture('call-16k-mono.opus');
      const receipt = await uploaded(`kms-${kind}-on-playback`, body);
      const mediaPath = await issueLink(vault, sup, receipt.id, { singleUse: true });
      const decrypts = callsOf('Decrypt');
      kms.failNext(ATTEMPTS, kind);
      const t0 = Date.now();
      const res = await send(vault, { path: mediaPath });
      const elapsed = Date.now() - t0;
      assertUnavailable('GET', mediaPath, res, 'keys_unavailable');
      assert.equal(callsOf('Decrypt') - decrypts, ATTEMPTS);
      assert.ok(elapsed < TIMEOUT_MS * ATTEMPTS + SLACK_MS, `bounded by KMS_REQUEST_TIMEOUT_MS × KMS_MAX_ATTEMPTS (${elapsed} ms)`);
      const reads = await vault.deps.db('audit_events').where({ action: 'media.read', recording_id: receipt.id }).count<{ count: number }[]>({ count: '*' });
      assert.equal(Number(reads[0]?.count), 0, 'no media.read for a playback that did not happen');
      await assertPlays(vault, sup, receipt.id, { sha256: sha256(body), sizeBytes: body.length }, mediaPath);
    });
  }

  for (const kind of ['internal', 'hang'] as const) {
    test(`/readyz is 503 naming keys while the key service ${kind === 'hang' ? 'hangs' : 'fails'}, and 200 once it answers`, async () => {
      kms.failNext(ATTEMPTS, kind);
      await assertNotReady(vault, 'keys');
      await assertReady(vault);
    });
  }

  test('with latency below the timeout nothing fails', async () => {
    kms.setLatency(TIMEOUT_MS / 2);
    try {
      const body = await fixture('call-ulaw-8k-mono.wav');
      const receipt = await uploaded('kms-slow-but-alive', body);
      await assertPlays(vault, sup, receipt.id, { sha256: sha256(body), sizeBytes: body.length });
    } finally {
      kms.setLatency(0);
    }
  });

  test('no committed recording was lost: each plays byte for byte and no other row exists', async () => {
    const rows = await recordingRows(vault.deps.db);
    assert.deepEqual(rows.map((r) => r.id).sort(), committed.map((r) => r.id).sort());
    for (const r of committed) await assertPlays(vault, sup, r.id, r);
  });
});
