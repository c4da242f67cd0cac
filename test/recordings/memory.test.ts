import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generatedWav, startMemoryVault, type MemoryVault } from '../helpers/big-recording.js';
import { request } from '../helpers/http.js';

const GiB = 1024 ** 3;

let m: MemoryVault;
before(async () => { m = await startMemoryVault(); });
after(() => m?.close());

test('a 1 GiB upload streams through the server with peak RSS under 200 MB', async (t) => {
  const { vault } = m;
  const token = await m.token('pbx');
  const hash = createHash('sha256');
  const res = await request(vault, {
    method: 'PUT', path: '/v1/recordings/big-1gib.wav', token,
    headers: { 'content-type': 'audio/wav', 'content-length': String(GiB) },
    body: generatedWav(GiB, hash),
  });
  assert.equal(res.status, 201, res.body.toString());
  const receipt = res.json<{ sizeBytes: number; sha256: string }>();
  assert.equal(receipt.sizeBytes, GiB);
  assert.equal(receipt.sha256, hash.digest('hex'));
  const peak = await vault.peakRss();
  t.diagnostic(`server peak RSS ${Math.round(peak / 1024 / 1024)} MB`);
  assert.ok(peak < 200 * 1024 * 1024, `peak RSS ${Math.round(peak / 1024 / 1024)} MB`);
});
