import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

const GiB = 1024 ** 3;

/** A WAV header followed by generated PCM: never held in memory, hashed as it is produced. */
function generatedRecording(totalBytes: number, hash: ReturnType<typeof createHash>): Readable {
  const header = wavHeader(totalBytes - 44);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7919) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent === 0) { hash.update(header); sent = header.length; this.push(header); return; }
      if (sent >= totalBytes) { this.push(null); return; }
      const n = Math.min(chunk.length, totalBytes - sent);
      const piece = chunk.subarray(0, n);
      sent += n;
      hash.update(piece);
      this.push(piece);
    },
  });
}

let db: TestDatabase;
let dataDir: string;
let vault: VaultProcess;

before(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'callvault-mem-'));
  vault = await spawnVault({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url, DATABASE_ADMIN_URL: db.adminUrl, RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off' });
});

after(async () => {
  await vault?.stop();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

test('a 1 GiB upload streams through the server with peak RSS under 200 MB', async (t) => {
  const config = loadConfig({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url });
  const devKey = config.jwt.devSigningKey?.file;
  assert.ok(devKey);
  const token = await mintDevToken(devKey, { tenant: 'acme', roles: ['pbx'], sub: 'pbx-1', issuer: config.jwt.issuer, audience: config.jwt.audience });
  const hash = createHash('sha256');
  const res = await request(vault, {
    method: 'PUT', path: '/v1/recordings/big-1gib.wav', token,
    headers: { 'content-type': 'audio/wav', 'content-length': String(GiB) },
    body: generatedRecording(GiB, hash),
  });
  assert.equal(res.status, 201, res.body.toString());
  const receipt = res.json<{ sizeBytes: number; sha256: string }>();
  assert.equal(receipt.sizeBytes, GiB);
  assert.equal(receipt.sha256, hash.digest('hex'));
  const peak = await vault.peakRss();
  t.diagnostic(`server peak RSS ${Math.round(peak / 1024 / 1024)} MB`);
  assert.ok(peak < 200 * 1024 * 1024, `peak RSS ${Math.round(peak / 1024 / 1024)} MB`);
});
