import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/cluster.js';
import { wavHeader } from '../helpers/audio.js';
import { request } from '../helpers/http.js';
import { spawnVault, type VaultProcess } from '../helpers/process.js';

/**
 * A redaction streams: redacting a 256 MiB recording adds less than 64 MB to the server's peak
 * RSS after its upload (which the ingest memory test bounds on its own).
 */
const SIZE = 256 * 1024 * 1024;

function generated(totalBytes: number): Readable {
  const header = wavHeader(totalBytes - 44);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7919) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent === 0) { sent = header.length; this.push(header); return; }
      if (sent >= totalBytes) { this.push(null); return; }
      const n = Math.min(chunk.length, totalBytes - sent);
      sent += n;
      this.push(chunk.subarray(0, n));
    },
  });
}

let db: TestDatabase;
let dataDir: string;
let vault: VaultProcess;

before(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'callvault-redact-mem-'));
  vault = await spawnVault({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url, DATABASE_ADMIN_URL: db.adminUrl, RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off' });
});

after(async () => {
  await vault?.stop();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

test('a 256 MiB recording is redacted adding less than 64 MB to the server\'s peak RSS', async (t) => {
  const config = loadConfig({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url });
  const devKey = config.jwt.devSigningKey?.file;
  assert.ok(devKey);
  const mint = (role: 'pbx' | 'compliance') => mintDevToken(devKey, { tenant: 'acme', roles: [role], sub: `${role}-1`, issuer: config.jwt.issuer, audience: config.jwt.audience });
  const up = await request(vault, {
    method: 'PUT', path: '/v1/recordings/big-redact.wav', token: await mint('pbx'),
    headers: { 'content-type': 'audio/wav', 'content-length': String(SIZE) }, body: generated(SIZE),
  });
  assert.equal(up.status, 201, up.body.toString());
  const { id, sha256 } = up.json<{ id: string; sha256: string }>();
  const uploaded = await vault.peakRss();
  t.diagnostic(`peak RSS after the upload ${Math.round(uploaded / 1024 / 1024)} MB`);
  const order = { ranges: [{ startMs: 1_000_000, endMs: 1_030_000 }, { startMs: 16_000_000, endMs: 16_000_500 }], fill: 'tone', reason: 'card number', category: 'pci' };
  const res = await request(vault, {
    method: 'POST', path: `/v1/recordings/${id}/redactions`, token: await mint('compliance'),
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
