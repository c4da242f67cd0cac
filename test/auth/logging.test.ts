import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/http/logger.js';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { waitFor } from '../helpers/wait.js';
import { GENEROUS_LIMITS, upload } from './support.js';

/** Every part of a token that would let someone replay it, or recognise it. */
function secretParts(token: string): string[] {
  const parts = token.split('.').filter((p) => p.length >= 16);
  return [token, ...parts];
}

function assertNoneIn(lines: readonly string[], secrets: readonly string[]): void {
  assert.ok(lines.length > 0, 'some log lines were captured');
  for (const line of lines) {
    for (const s of secrets) assert.ok(!line.includes(s), `log line leaks a secret (${s.slice(0, 12)}…): ${line.slice(0, 300)}`);
  }
}

describe('request logs of a running vault', () => {
  const lines: string[] = [];
  let vault: TestVault;

  before(async () => {
    vault = await startVault({ logLines: lines, env: GENEROUS_LIMITS });
  });
  after(async () => { await vault.close(); });

  test('tokens used in requests never reach the log, and every request line carries its requestId', async () => {
    const valid = await vault.token('pbx', { sub: 'pbx-log-1' });
    const wrongRole = await vault.token('agent', { sub: 'agent-log-1' });
    const [h, p, s] = valid.split('.');
    const tampered = `${h}.${p}.${(s ?? '').split('').reverse().join('')}`;
    const mediaToken = `mt1.${randomBytes(32).toString('base64url')}`;
    const cookie = `session=${randomBytes(24).toString('hex')}`;

    const seen: string[] = [];
    const track = (res: { headers: Record<string, unknown> }): void => { seen.push(String(res.headers['x-request-id'])); };
    const uploaded = await upload(vault, valid);
    assert.equal(uploaded.status, 201, uploaded.body.toString());
    track(uploaded);
    track(await upload(vault, tampered));
    track(await upload(vault, wrongRole));
    track(await upload(vault, null, { authorization: `Basic ${Buffer.from(`pbx:${tampered}`).toString('base64')}` }));
    track(await request(vault, { path: `/media/${mediaToken}`, headers: { cookie, range: 'bytes=0-10' } }));
    track(await request(vault, { path: `/media/${mediaToken}?download=1&token=${mediaToken}` }));
    track(await request(vault, { path: `/v1/recordings?token=${valid}&access_token=${valid}`, headers: { authorization: `Bearer ${tampered}` } }));
    track(await request(vault, { path: `/healthz?token=${mediaToken}` }));
    track(await request(vault, { path: `/v1/no-such-route/${valid}`, token: valid }));
    const chosen = `req-${randomBytes(8).toString('hex')}`;
    const echoed = await request(vault, { path: '/healthz', headers: { 'x-request-id': chosen } });
    assert.equal(echoed.headers['x-request-id'], chosen);
    track(echoed);

    // A request line is written when the response has closed, a moment after the client has it.
    const requestLines = (): Array<Record<string, unknown>> => lines.flatMap((l) => l.split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    await waitFor('a request line for every request', async () => seen.every((id) => requestLines().some((l) => l.requestId === id)));
    assertNoneIn(lines, [...secretParts(valid), ...secretParts(tampered), ...secretParts(wrongRole), mediaToken, mediaToken.slice(4), cookie]);
    for (const l of requestLines()) assert.match(String(l.requestId), /^[A-Za-z0-9._-]{8,64}$/);
    assert.ok(requestLines().some((l) => l.url === '/media/[redacted]'), 'media requests are logged with the token redacted');
  });
});

describe('logger redaction', () => {
  const capture = (): { lines: string[]; logger: ReturnType<typeof createLogger> } => {
    const lines: string[] = [];
    const logger = createLogger('trace', new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } }));
    return { lines, logger };
  };
  const jwt = `eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${Buffer.from(JSON.stringify({ sub: 'x', n: randomBytes(8).toString('hex') })).toString('base64url')}.${randomBytes(64).toString('base64url')}`;
  const secret = randomBytes(20).toString('hex');

  test('errors are logged without the request, its headers or tokens in their message', () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error(`upstream refused Bearer ${jwt}`), {
      code: 'E_UPSTREAM', status: 502,
      config: { headers: { Authorization: `Bearer ${jwt}`, 'X-Api-Key': secret } },
      request: { headers: { cookie: secret } },
      $response: { headers: { 'set-cookie': secret } },
      cause: Object.assign(new Error(`inner ${jwt}`), { headers: { authorization: secret } }),
    });
    logger.error({ err, requestId: 'r-1' }, 'dependency failed');
    logger.error(err);
    logger.warn(err, 'with message %s', jwt);
    assertNoneIn(lines, [jwt, secret, ...secretParts(jwt)]);
    const first = JSON.parse(lines[0] ?? '{}') as { err: { type: string; message: string; code: string; status: number; cause: { message: string } }; requestId: string };
    assert.equal(first.requestId, 'r-1');
    assert.equal(first.err.type, 'Error');
    assert.equal(first.err.code, 'E_UPSTREAM');
    assert.equal(first.err.status, 502);
    assert.match(first.err.message, /^upstream refused Bearer \[redacted/);
    assert.match(first.err.cause.message, /^inner \[redacted jwt\]/);
    assert.ok(!('config' in first.err) && !('request' in first.err));
  });

  test('secrets in fields, messages, urls and nested objects are redacted; other data is kept', () => {
    const { lines, logger } = capture();
    const mediaToken = randomBytes(30).toString('base64url');
    logger.info({ headers: { authorization: `Bearer ${jwt}`, cookie: secret }, user: { password: secret, apiKey: secret, name: 'alice' } }, 'login');
    logger.info({ deep: { a: { b: { c: { clientSecret: secret, token: secret, privateKey: secret } } } } }, 'nested');
    logger.info({ url: `https://vault.example/media/${mediaToken}?x=1`, next: `/cb?code=${secret}&state=ok` }, 'link %s', `/media/${mediaToken}`);
    logger.info(`token in message ${jwt} and in a Basic ${Buffer.from(`u:${secret}`).toString('base64')}`);
    logger.info({ pem: `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n` }, 'key material');
    logger.info({ list: [{ token: secret }, jwt] }, 'array');
    assertNoneIn(lines, [jwt, secret, mediaToken, ...secretParts(jwt)]);
    const all = lines.join('');
    assert.ok(all.includes('"name":"alice"'), 'ordinary fields survive');
    assert.ok(all.includes('state=ok'), 'ordinary query parameters survive');
    for (const line of lines) JSON.parse(line);
  });
});
