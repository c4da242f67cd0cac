import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { connectRaw, parseRawResponse, trickle } from './raw-tls.js';

const HEADERS_TIMEOUT_MS = 2_000;
const IDLE_BODY_TIMEOUT_MS = 1_500;

function assertProblem(raw: string, status: number, code: string): void {
  const res = parseRawResponse(raw);
  assert.equal(res.status, status, raw.slice(0, 200));
  assert.equal(res.headers['content-type'], 'application/problem+json');
  assert.equal(res.headers.connection, 'close');
  const body = JSON.parse(res.body) as { status: number; code: string; requestId: string };
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.match(body.requestId, /^[0-9a-f-]{36}$/);
}

describe('HTTP server hardening', () => {
  let vault: TestVault;
  let pbx: string;
  before(async () => {
    vault = await startVault({
      env: { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_IDLE_BODY_TIMEOUT_MS: String(IDLE_BODY_TIMEOUT_MS) },
    });
    pbx = await vault.token('pbx');
  });
  after(async () => { await vault.close(); });

  test('slowloris: a client sending its head one byte per second is answered 408 and cut off within the headers timeout', async () => {
    const conn = await connectRaw(vault);
    void trickle(conn, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(60)}\r\n\r\n`, 1_000);
    const elapsed = await conn.closed;
    assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 250, `closed too early (${elapsed} ms)`);
    assert.ok(elapsed < HEADERS_TIMEOUT_MS + 2_000, `held open for ${elapsed} ms`);
    assertProblem(conn.received(), 408, 'request_timeout');
  });

  test('slow body: an upload whose body stalls is answered 408 and closed after the idle timeout', async () => {
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const conn = await connectRaw(vault);
    conn.write([
      'PUT /v1/recordings/slow-body.wav HTTP/1.1', 'Host: localhost', `Authorization: Bearer ${pbx}`,
      'Content-Type: audio/wav', `Content-Length: ${wav.length}`, '', '',
    ].join('\r\n'));
    conn.write(wav.subarray(0, 512));
    const sentBody = Date.now();
    // Trickles with gaps longer than the idle timeout: each gap alone must end the exchange.
    void trickle(conn, wav.subarray(512, 600).toString('latin1'), IDLE_BODY_TIMEOUT_MS * 2);
    await conn.closed;
    const elapsed = Date.now() - sentBody;
    assert.ok(elapsed < IDLE_BODY_TIMEOUT_MS * 2 + 1_500, `held open for ${elapsed} ms`);
    assertProblem(conn.received(), 408, 'request_timeout');
    const found = await vault.deps.recordings.findByCallId('acme', 'slow-body');
    assert.equal(found, null, 'nothing of the stalled upload is kept');
  });

  test('an oversized request head answers 431 problem+json', async () => {
    const conn = await connectRaw(vault);
    conn.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(20 * 1024)}\r\n\r\n`);
    await conn.closed;
    assertProblem(conn.received(), 431, 'headers_too_large');
  });

  test('a flood of small headers answers 431 rather than being parsed', async () => {
    const conn = await connectRaw(vault);
    const flood = Array.from({ length: 3_000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    conn.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\n${flood}\r\n\r\n`);
    await conn.closed;
    assertProblem(conn.received(), 431, 'headers_too_large');
  });

  test('a malformed request line answers 400 problem+json', async () => {
    const conn = await connectRaw(vault);
    conn.write('GET /healthz HTTP/9.9 nonsense\r\n\r\n');
    await conn.closed;
    assertProblem(conn.received(), 400, 'malformed_request');
  });

  test('well-behaved requests and uploads still work after the attacks', async () => {
    const health = await request(vault, { path: '/healthz' });
    assert.equal(health.status, 200);
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const up = await request(vault, { method: 'PUT', path: '/v1/recordings/after-attacks.wav', body: wav, token: pbx });
    assert.equal(up.status, 201, up.body.toString());
  });
});

describe('HTTP server timeouts configuration', () => {
  test('a request timeout shorter than the headers timeout still starts (the smaller one bounds the head)', async () => {
    const vault = await startVault({ env: { HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_HEADERS_TIMEOUT_MS: '20000' } });
    try {
      const conn = await connectRaw(vault);
      void trickle(conn, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(60)}\r\n\r\n`, 500);
      const elapsed = await conn.closed;
      assert.ok(elapsed < 1_500 + 2_000, `held open for ${elapsed} ms`);
      assertProblem(conn.received(), 408, 'request_timeout');
    } finally {
      await vault.close();
    }
  });
});
