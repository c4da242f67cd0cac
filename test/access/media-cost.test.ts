import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, type TestVault } from '../helpers/vault.js';
import { issueLink, play, SyntheticRecording, upload, type IssuedLink } from './support.js';

/**
 * A 30-minute stereo G.711 recording (8 000 samples/s × 2 channels × 1 byte × 1 800 s = 28.8 MB)
 * played the way a browser seeks through it: 20 Range requests, one key-service call.
 */
describe('playing a 30-minute recording', () => {
  let vault: TestVault;
  let link: IssuedLink;
  const recording = new SyntheticRecording(8_000 * 2 * 1_800, { channels: 2 });

  before(async () => {
    vault = await startVault({ keys: 'aws-kms' });
    const receipt = await upload(vault, await vault.token('pbx'), 'long-call', recording.body(), { durationSeconds: '1800' });
    assert.equal(receipt.sizeBytes, recording.size);
    assert.equal(receipt.contentType, 'audio/wav');
    link = await issueLink(vault, await vault.token('supervisor'), receipt.id, { reason: 'long call review' });
  });
  after(async () => { await vault.close(); });

  test('20 Range requests cost one key-service call and return the right bytes', async () => {
    const kms = vault.kms;
    assert.ok(kms);
    const decryptsBefore = kms.calls.Decrypt ?? 0;
    const metricBefore = await decryptMetric(vault);
    const step = Math.floor(recording.size / 20);
    for (let i = 0; i < 20; i++) {
      const start = i * step;
      const end = Math.min(recording.size - 1, start + 256 * 1024 - 1);
      const res = await play(vault, link, { range: `bytes=${start}-${end}` });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${recording.size}`);
      assert.ok(res.body.equals(recording.slice(start, end)), `range ${start}-${end}`);
    }
    assert.equal((kms.calls.Decrypt ?? 0) - decryptsBefore, 1, 'KMS Decrypt calls');
    assert.equal(await decryptMetric(vault) - metricBefore, 1, 'callvault_key_service_calls_total{operation="decrypt"}');
  });
});

async function decryptMetric(vault: TestVault): Promise<number> {
  const metric = await vault.deps.metrics.keyServiceCalls.get();
  return metric.values.filter((v) => v.labels.operation === 'decrypt').reduce((sum, v) => sum + v.value, 0);
}
