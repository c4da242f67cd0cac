import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { tinyWav } from '../access/support.js';
import { objectKeys } from '../faults/support.js';
import { request, type HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { putPolicy } from '../retention/support.js';

/**
 * A recording's own dates are checked when it arrives: a startedAt so old that its retention
 * window has already closed is refused with 422 (it would be deleted by the next retention pass),
 * one too far in the future with 400; in both cases before a data key is requested or a byte is
 * stored whenever the metadata precedes the body, and the callId stays free for a correct upload.
 */
const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

interface Problem { status: number; code: string; detail: string }

describe('startedAt is checked against the retention window and the clock', () => {
  let vault: TestVault;
  let pbx: string;
  const dataKeysRequested = (): number => vault.kms?.calls.GenerateDataKey ?? 0;

  before(async () => {
    vault = await startVault({ keys: 'aws-kms' });
    pbx = await vault.token('pbx');
    await putPolicy(vault, 'one-hour', 'PT1H');
  });
  after(async () => { await vault.close(); });

  const put = async (callId: string, query: Record<string, string>, body = tinyWav(1)): Promise<HttpResponse> => {
    const res = await request(vault, {
      method: 'PUT', path: `/v1/recordings/${callId}?${new URLSearchParams(query).toString()}`, body, token: pbx, headers: { 'content-type': 'audio/wav' },
    });
    return assertContract('PUT', `/v1/recordings/${callId}`, res);
  };

  /** A form whose startedAt field comes before or after the file part. */
  const post = async (callId: string, startedAt: string, where: 'before' | 'after', body = tinyWav(2)): Promise<HttpResponse> => {
    const b = `b${randomUUID()}`;
    const field = (name: string, value: string): Buffer => Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
    const file = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`), body, Buffer.from('\r\n')]);
    const parts = where === 'before' ? [field('callId', callId), field('startedAt', startedAt), file] : [field('callId', callId), file, field('startedAt', startedAt)];
    const res = await request(vault, {
      method: 'POST', path: '/v1/recordings', body: Buffer.concat([...parts, Buffer.from(`--${b}--\r\n`)]), token: pbx,
      headers: { 'content-type': `multipart/form-data; boundary=${b}` },
    });
    return assertContract('POST', '/v1/recordings', res);
  };

  const refused = (res: HttpResponse, status: number, code: string): Problem => {
    assert.equal(res.status, status, res.body.toString());
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const problem = res.json<Problem>();
    assert.equal(problem.code, code);
    return problem;
  };

  const nothingKept = async (callId: string, objectsBefore: string[]): Promise<void> => {
    assert.equal(await vault.deps.recordings.findByCallId('acme', callId), null, `no row for ${callId}`);
    assert.deepEqual(await objectKeys(vault.deps.store), objectsBefore, 'no object kept');
  };

  test('a PBX clock at 1970: 422 retention_already_expired before any key or byte, and the callId is still free', async () => {
    const objects = await objectKeys(vault.deps.store);
    const keys = dataKeysRequested();
    const problem = refused(await put('clock-1970', { startedAt: '1970-01-01T00:00:00Z' }), 422, 'retention_already_expired');
    assert.match(problem.detail, /retention policy default/);
    assert.match(problem.detail, /PBX clock/);
    assert.equal(dataKeysRequested(), keys, 'no data key was requested');
    await nothingKept('clock-1970', objects);
    const fixed = await put('clock-1970', { startedAt: iso(-60_000) });
    assert.equal(fixed.status, 201, fixed.body.toString());
  });

  test('a start time older than a short policy allows: 422; within it: 201 with retainUntil = startedAt + retain', async () => {
    const objects = await objectKeys(vault.deps.store);
    refused(await put('short-expired', { startedAt: iso(-2 * 3_600_000), policy: 'one-hour' }), 422, 'retention_already_expired');
    await nothingKept('short-expired', objects);
    const startedAt = iso(-30 * 60_000);
    const ok = await put('short-open', { startedAt, policy: 'one-hour' });
    assert.equal(ok.status, 201, ok.body.toString());
    assert.equal(ok.json<{ retainUntil: string }>().retainUntil, new Date(Date.parse(startedAt) + 3_600_000).toISOString());
    const old = await put('old-but-open', { startedAt: iso(-400 * DAY) });
    assert.equal(old.status, 201, 'a year-old call under the six-year default is still accepted');
  });

  test('multipart: startedAt before the file is refused before any key or byte; after the file, the stored object is discarded', async () => {
    const objects = await objectKeys(vault.deps.store);
    const keys = dataKeysRequested();
    refused(await post('form-1970-first', '1970-01-01T00:00:00Z', 'before'), 422, 'retention_already_expired');
    assert.equal(dataKeysRequested(), keys, 'no data key was requested');
    refused(await post('form-1970-last', '1970-01-01T00:00:00Z', 'after'), 422, 'retention_already_expired');
    refused(await post('form-future-last', iso(DAY), 'after'), 400, 'started_at_in_future');
    await nothingKept('form-1970-first', objects);
    await nothingKept('form-1970-last', objects);
    const fixed = await post('form-1970-last', iso(-60_000), 'after');
    assert.equal(fixed.status, 201, fixed.body.toString());
  });

  test('a start time beyond RECORDING_MAX_CLOCK_SKEW (default PT5M) ahead: 400 started_at_in_future; within it: 201', async () => {
    const objects = await objectKeys(vault.deps.store);
    const keys = dataKeysRequested();
    const problem = refused(await put('clock-ahead', { startedAt: iso(10 * 60_000) }), 400, 'started_at_in_future');
    assert.match(problem.detail, /PBX clock/);
    assert.equal(dataKeysRequested(), keys, 'no data key was requested');
    await nothingKept('clock-ahead', objects);
    const slightly = await put('clock-ahead', { startedAt: iso(2 * 60_000) });
    assert.equal(slightly.status, 201, slightly.body.toString());
  });
});
