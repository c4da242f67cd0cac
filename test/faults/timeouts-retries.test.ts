import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';
import { createS3Client } from '../../src/storage/s3-store.js';
import { createKmsClient } from '../../src/keys/aws-kms.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import {
  MIB, assertNotReady, assertPlays, assertUnavailable, fixture, generatedWav, objectKeys, recordingRows, send, sha256, superuser, type Receipt,
} from './support.js';

/**
 * Timeouts and retries come from configuration and reach the clients: a store that never
 * answers costs S3_REQUEST_TIMEOUT_MS per attempt and S3_MAX_ATTEMPTS attempts, a database that
 * never answers costs DATABASE_CONNECT_TIMEOUT_MS, a statement DATABASE_STATEMENT_TIMEOUT_MS (the
 * key service's are in keys.test.ts). Retries are safe: the S3 client re-sends whole parts, so an
 * upload whose every part failed once is stored intact. Database statements are not retried by
 * the vault (replaying half a transaction is not idempotent); the PBX retries the whole upload,
 * keyed by callId.
 */

process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';

/** An HTTP server that reads requests and never answers them; counts them by method. */
async function blackHole(): Promise<{ url: string; port: number; seen: Record<string, number>; close(): Promise<void> }> {
  const seen: Record<string, number> = {};
  const server = http.createServer((req) => {
    seen[req.method ?? '?'] = (seen[req.method ?? '?'] ?? 0) + 1;
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, port, seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A TCP listener that accepts connections and never sends a byte: a database that hangs at connect. */
async function silentTcp(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/**
 * In front of s3rver: the first attempt of every object write (PutObject, and UploadPart per part
 * number) is read in full and answered 500 InternalError; the SDK's retry goes through.
 */
async function flakyProxy(upstream: string): Promise<{ url: string; failed: string[]; forwarded: string[]; close(): Promise<void> }> {
  const target = new URL(upstream);
  const failed: string[] = [];
  const forwarded: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const write = req.method === 'PUT' && !url.searchParams.has('uploads');
    const id = `${url.pathname}#${url.searchParams.get('partNumber') ?? 'object'}`;
    if (write && !failed.includes(id)) {
      failed.push(id);
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
      });
      return;
    }
    if (write) forwarded.push(id);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, failed, forwarded,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('timeouts and retries from configuration', () => {
  test('sane defaults, and each variable reaches the configuration', () => {
    const base = { CALLVAULT_DATA_DIR: '/tmp/callvault-config-check', STORAGE_DRIVER: 's3', S3_BUCKET: 'b', KEY_PROVIDER: 'aws-kms', KMS_KEY_ID: 'k', DATABASE_URL: 'postgres://u@h/d' };
    const d = loadConfig(base);
    assert.ok(d.storage.driver === 's3' && d.keys.kind === 'aws-kms');
    assert.deepEqual([d.storage.maxAttempts, d.storage.connectTimeoutMs, d.storage.requestTimeoutMs], [3, 3_000, 60_000]);
    assert.deepEqual([d.keys.maxAttempts, d.keys.connectTimeoutMs, d.keys.requestTimeoutMs], [3, 2_000, 5_000]);
    assert.deepEqual([d.database.connectTimeoutMs, d.database.statementTimeoutMs, d.database.poolMax], [5_000, 30_000, 10]);
    const c = loadConfig({
      ...base, S3_MAX_ATTEMPTS: '5', S3_CONNECT_TIMEOUT_MS: '111', S3_REQUEST_TIMEOUT_MS: '222', KMS_MAX_ATTEMPTS: '4', KMS_CONNECT_TIMEOUT_MS: '333',
      KMS_REQUEST_TIMEOUT_MS: '444', DATABASE_CONNECT_TIMEOUT_MS: '555', DATABASE_STATEMENT_TIMEOUT_MS: '666', DATABASE_POOL_MAX: '7',
    });
    assert.ok(c.storage.driver === 's3' && c.keys.kind === 'aws-kms');
    assert.deepEqual([c.storage.maxAttempts, c.storage.connectTimeoutMs, c.storage.requestTimeoutMs], [5, 111, 222]);
    assert.deepEqual([c.keys.maxAttempts, c.keys.connectTimeoutMs, c.keys.requestTimeoutMs], [4, 333, 444]);
    assert.deepEqual([c.database.connectTimeoutMs, c.database.statementTimeoutMs, c.database.poolMax], [555, 666, 7]);
    for (const [name, value] of [['S3_MAX_ATTEMPTS', '0'], ['KMS_REQUEST_TIMEOUT_MS', '5'], ['DATABASE_CONNECT_TIMEOUT_MS', 'soon']] as const) {
      assert.throws(() => loadConfig({ ...base, [name]: value }), (err) => err instanceof ConfigError && err.variable === name);
    }
  });

  test('the SDK clients are built with the configured attempts', async () => {
    const s3 = createS3Client({ region: 'us-east-1', maxAttempts: 4, connectTimeoutMs: 100, requestTimeoutMs: 200 });
    const kms = createKmsClient({ region: 'us-east-1', maxAttempts: 2, connectTimeoutMs: 100, requestTimeoutMs: 200 });
    try {
      assert.equal(await s3.config.maxAttempts(), 4);
      assert.equal(await kms.config.maxAttempts(), 2);
    } finally {
      s3.destroy();
      kms.destroy();
    }
  });

  describe('an object store that never answers', () => {
    let hole: Awaited<ReturnType<typeof blackHole>>;
    let vault: TestVault;
    before(async () => {
      hole = await blackHole();
      vault = await startVault({
        env: { STORAGE_DRIVER: 's3', S3_BUCKET: 'never', S3_ENDPOINT: hole.url, S3_FORCE_PATH_STYLE: 'true', S3_MAX_ATTEMPTS: '2', S3_REQUEST_TIMEOUT_MS: '300' },
      });
    });
    after(async () => {
      await vault?.close();
      await hole?.close();
    });

    test('an upload gives up after S3_MAX_ATTEMPTS attempts of S3_REQUEST_TIMEOUT_MS each: 503 storage_unavailable, no row', async () => {
      const t0 = Date.now();
      const res = await send(vault, { method: 'PUT', path: '/v1/recordings/store-hangs', token: await vault.token('pbx'), body: await fixture('call-ulaw-8k-mono.wav') });
      const elapsed = Date.now() - t0;
      assertUnavailable('PUT', '/v1/recordings/store-hangs', res, 'storage_unavailable');
      assert.equal(hole.seen.PUT, 2, 'PutObject was attempted S3_MAX_ATTEMPTS times');
      // The put (2 × 300 ms) and the clean-up of what it may have left (2 × 300 ms), with backoff.
      assert.ok(elapsed >= 600 && elapsed < 10_000, `${elapsed} ms (the default would be minutes)`);
      assert.deepEqual(await recordingRows(vault.deps.db), []);
      await assertNotReady(vault, 'storage');
    });
  });

  describe('a database that never answers', () => {
    let silent: Awaited<ReturnType<typeof silentTcp>>;
    let vault: TestVault;
    before(async () => {
      silent = await silentTcp();
      vault = await startVault({ env: { DATABASE_URL: `postgres://nobody:x@127.0.0.1:${silent.port}/none`, DATABASE_CONNECT_TIMEOUT_MS: '400' } });
    });
    after(async () => {
      await vault?.close();
      await silent?.close();
    });

    test('a request gives up after DATABASE_CONNECT_TIMEOUT_MS: 503 database_unavailable', async () => {
      const token = await vault.token('supervisor');
      const t0 = Date.now();
      const res = await send(vault, { path: '/v1/recordings', token });
      const elapsed = Date.now() - t0;
      assertUnavailable('GET', '/v1/recordings', res, 'database_unavailable');
      assert.ok(elapsed >= 350 && elapsed < 4_000, `${elapsed} ms (the default is 5 s)`);
      await assertNotReady(vault, 'database');
    });
  });

  describe('a statement that waits too long', () => {
    let vault: TestVault;
    before(async () => { vault = await startVault({ env: { DATABASE_STATEMENT_TIMEOUT_MS: '300' } }); });
    after(async () => { await vault?.close(); });

    test('is cancelled after DATABASE_STATEMENT_TIMEOUT_MS: 503 database_unavailable, and the next request is served', async () => {
      const shown = await vault.deps.db.raw<{ rows: Array<{ statement_timeout: string }> }>('SHOW statement_timeout');
      assert.equal(shown.rows[0]?.statement_timeout, '300ms');
      const token = await vault.token('supervisor');
      const su = await superuser(vault.database.superuserUrl);
      try {
        await su.query('BEGIN');
        await su.query('LOCK TABLE recordings IN ACCESS EXCLUSIVE MODE');
        const t0 = Date.now();
        const res = await send(vault, { path: '/v1/recordings', token });
        const elapsed = Date.now() - t0;
        assertUnavailable('GET', '/v1/recordings', res, 'database_unavailable');
        assert.ok(elapsed >= 300 && elapsed < 5_000, `${elapsed} ms (the default is 30 s)`);
      } finally {
        await su.query('ROLLBACK');
        await su.end();
      }
      const res = await send(vault, { path: '/v1/recordings', token });
      assert.equal(res.status, 200, res.body.toString());
    });
  });

  describe('an object store that fails the first attempt of every write', () => {
    let s3: S3rverHandle;
    let proxy: Awaited<ReturnType<typeof flakyProxy>>;
    let vault: TestVault;
    before(async () => {
      s3 = await startS3rver();
      proxy = await flakyProxy(s3.endpoint);
      vault = await startVault({ env: { STORAGE_DRIVER: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: proxy.url, S3_FORCE_PATH_STYLE: 'true', S3_MAX_ATTEMPTS: '2' } });
    });
    after(async () => {
      await vault?.close();
      await proxy?.close();
      await s3?.destroy();
    });

    test('the client re-sends whole objects and whole parts: a small and a multipart upload are stored intact, once each', async () => {
      const pbx = await vault.token('pbx');
      const sup = await vault.token('supervisor');
      const small = await fixture('call-pcm16-8k-stereo.wav');
      const one = await send(vault, { method: 'PUT', path: '/v1/recordings/flaky-small', token: pbx, body: small });
      assert.equal(one.status, 201, one.body.toString());
      const size = 20 * MIB;
      const wav = generatedWav(size, 20);
      const big = await send(vault, { method: 'PUT', path: '/v1/recordings/flaky-multipart', token: pbx, body: wav.stream, headers: { 'content-length': String(size) } });
      assert.equal(big.status, 201, big.body.toString());
      assert.equal(big.json<Receipt>().sha256, wav.digest());

      assert.ok(proxy.failed.some((id) => id.endsWith('#object')), 'the PutObject failed once');
      assert.ok(proxy.failed.filter((id) => !id.endsWith('#object')).length >= 3, `every part failed once (${proxy.failed.join(', ')})`);
      assert.deepEqual([...proxy.forwarded].sort(), [...proxy.failed].sort(), 'each failed write was retried exactly once');
      const receipts = [one.json<Receipt>(), big.json<Receipt>()];
      assert.equal(receipts[0]!.sha256, sha256(small));
      for (const r of receipts) await assertPlays(vault, sup, r.id, r);
      assert.deepEqual(await objectKeys(s3.store), (await recordingRows(vault.deps.db)).map((r) => r.object_key).sort());
    });
  });
});
