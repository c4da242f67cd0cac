import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generatedWav, startMemoryVault, type MemoryVault } from '../helpers/big-recording.js';
import { request } from '../helpers/http.js';

/**
 * A redaction streams: redacting a 256 MiB recording adds less than 64 MB to the server's peak
 * RSS after its upload (which the ingest memory test bounds on its own).
 */
const SIZE = 256 * 1024 * 1024;

let m: MemoryVault;
before(async () => { m = await startMemoryVault(); });
after(() => m?.close());

test('a 256 MiB recording is redacted adding less than 64 MB to the server\'s peak RSS', async (t) => {
  const { vault } = m;
  const up = await request(vault, {
    method: 'PUT', path: '/v1/recordings/big-redact.wav', token: await m.token('pbx'),
    headers: { 'content-type': 'audio/wav', 'content-length': String(SIZE) }, body: generatedWav(SIZE),
  });
  assert.equal(up.status, 201, up.body.toString());
  const { id, sha256 } = up.json<{ id: string; sha256: string }>();
  const uploaded = await vault.peakRss();
  t.diagnostic(`peak RSS after the upload ${Math.round(uploaded / 1024 / 1024)} MB`);
  const order = { ranges: [{ startMs: 1_000_000, endMs: 1_030_000 }, { startMs: 16_000_000, endMs: 16_000_500 }], fill: 'tone', reason: 'card number', category: 'pci' };
  const res = await request(vault, {
    method: 'POST', path: `/v1/recordings/${id}/redactions`, token: await m.token('compliance'),
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(order),
  });
  assert.equal(res.status, 201, res.body.toString());
  const receipt = res.json<{ sizeBytes: number; sha256: string; previousSha256: string }>();
  assert.deepEqual([receipt.sizeBytes, receipt.previousSha256], [SIZE, sha256]);
  assert.notEqual(receipt.sha256, sha256);
  const peak = await vault.peakRss();
  t.diagnostic(`server peak RSS ${Math.round(peak / 1024 / 1024)} MB`);
  assert.ok(peak - uploaded < 64 * 1024 * 1024, `the redaction added ${Math.round((peak - uploaded) / 1024 / 1024)} MB`);
});
