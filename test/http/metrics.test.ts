import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runRetentionPass } from '../../src/retention/worker.js';
import { setAuditInsert } from '../helpers/cluster.js';
import { request, type HttpRequest, type HttpResponse } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';

/**
 * GET /metrics after real traffic: every series an operator alerts on moves when the thing it
 * counts happens, with the labels dashboards group by.
 */
interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: number }

/** Prometheus text format: `name{a="x",b="y"} value`, comments skipped. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum over the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('GET /metrics', () => {
  let vault: TestVault;
  let samples: Sample[];
  let lagAfterDryRun: number;
  let fixtureBytes: number;

  const send = (req: HttpRequest): Promise<HttpResponse> => request(vault, { ...req, headers: { 'user-agent': 'metrics-test', ...(req.headers ?? {}) } });
  const scrape = async (): Promise<Sample[]> => {
    const res = await send({ path: '/metrics' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parse(res.body.toString());
  };
  const auditInsert = (allowed: boolean): Promise<void> => setAuditInsert(vault.database.superuserUrl, allowed);
  const upload = async (callId: string, body: Buffer, query = ''): Promise<string> => {
    const res = await send({ method: 'PUT', path: `/v1/recordings/${callId}${query}`, body, token: await vault.token('pbx'), headers: { 'content-type': 'audio/wav' } });
    assert.equal(res.status, 201, res.body.toString());
    return res.json<{ id: string }>().id;
  };
  const json = (method: string, path: string, token: string, body: unknown): Promise<HttpResponse> =>
    send({ method, path, token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  before(async () => {
    vault = await startVault({ env: { LINK_RATE_PER_HOUR: '1' } });
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    fixtureBytes = wav.length;
    const id = await upload('metrics-1.wav', wav);
    const notAudio = await send({ method: 'PUT', path: '/v1/recordings/metrics-text', body: 'plain text, not a recording', token: await vault.token('pbx') });
    assert.equal(notAudio.status, 415);
    const sup = await vault.token('supervisor');
    assert.equal((await send({ path: '/v1/recordings?limit=10', token: sup })).status, 200);

    const link = await json('POST', `/v1/recordings/${id}/links`, sup, { reason: 'metrics' });
    assert.equal(link.status, 201);
    const media = new URL(link.json<{ url: string }>().url).pathname;
    assert.equal((await send({ path: media })).status, 200);
    assert.equal((await send({ path: media, headers: { range: 'bytes=0-99' } })).status, 206);
    const refused = await json('POST', `/v1/recordings/${id}/links`, sup, { reason: 'one link too many' });
    assert.equal(refused.status, 429, 'LINK_RATE_PER_HOUR=1: the second link is an anomaly');

    assert.equal((await send({ path: '/v1/recordings', token: await vault.token('pbx') })).status, 403);
    assert.equal((await send({ path: '/v1/recordings' })).status, 401);

    await auditInsert(false);
    try {
      assert.equal((await send({ path: '/v1/recordings', token: sup })).status, 503);
    } finally {
      await auditInsert(true);
    }

    const admin = await vault.token('admin');
    assert.equal((await json('PUT', '/v1/retention-policies/brief', admin, { retain: 'PT1S' })).status, 201);
    await upload('metrics-due', wav.subarray(0, 4096), '?policy=brief');
    const held = await upload('metrics-held', wav.subarray(0, 8192), '?policy=brief');
    // Overdue since 2020, as if their window had closed while they were stored (an upload that
    // arrives with its window already closed is refused).
    await vault.deps.db('recordings').whereIn('call_id', ['metrics-due', 'metrics-held']).update({ retain_until: new Date('2020-01-01T00:00:01Z') });
    assert.equal((await json('PUT', `/v1/recordings/${held}/legal-hold`, await vault.token('compliance'), { reason: 'kept' })).status, 200);
    await runRetentionPass(vault.deps, new Date(), { dryRun: true });
    lagAfterDryRun = total(await scrape(), 'callvault_retention_lag_seconds');
    const pass = await runRetentionPass(vault.deps, new Date());
    assert.deepEqual([pass.deleted, pass.skippedHold], [1, 1]);
    samples = await scrape();
  });
  after(async () => { await vault.close(); });

  test('request counts and latency histograms by route template, method and status', () => {
    const requests = (route: string, method: string, status: string): number =>
      total(samples, 'callvault_http_requests_total', { route, method, status });
    assert.equal(requests('/v1/recordings/:callId', 'PUT', '201'), 3);
    assert.equal(requests('/v1/recordings/:callId', 'PUT', '415'), 1);
    assert.equal(requests('/v1/recordings', 'GET', '200'), 1);
    assert.equal(requests('/v1/recordings', 'GET', '403'), 1);
    assert.equal(requests('/v1/recordings', 'GET', '401'), 1);
    assert.equal(requests('/v1/recordings', 'GET', '503'), 1);
    assert.equal(requests('/v1/recordings/:id/links', 'POST', '201'), 1);
    assert.equal(requests('/v1/recordings/:id/links', 'POST', '429'), 1);
    assert.equal(requests('/media/:token', 'GET', '200'), 1);
    assert.equal(requests('/media/:token', 'GET', '206'), 1);
    assert.ok(!samples.some((s) => s.labels.route?.includes('metrics-1')), 'no raw path (with ids or tokens) as a label');

    const bucket = (le: string): number => total(samples, 'callvault_http_request_duration_seconds_bucket', { route: '/v1/recordings/:callId', method: 'PUT', status: '201', le });
    assert.equal(bucket('+Inf'), 3);
    assert.ok(bucket('0.005') <= bucket('60'));
    assert.equal(total(samples, 'callvault_http_request_duration_seconds_count', { route: '/media/:token', status: '206' }), 1);
    assert.ok(total(samples, 'callvault_http_request_duration_seconds_sum', { route: '/v1/recordings/:callId' }) > 0);
  });

  test('recording bytes in and out', () => {
    assert.equal(total(samples, 'callvault_bytes_received_total'), fixtureBytes + 4096 + 8192);
    assert.equal(total(samples, 'callvault_bytes_sent_total'), fixtureBytes + 100, 'a full playback and one 100-byte range');
  });

  test('uploads, key-service calls and the data-key cache', () => {
    assert.equal(total(samples, 'callvault_uploads_total', { outcome: 'created' }), 3);
    assert.equal(total(samples, 'callvault_uploads_total', { outcome: 'rejected' }), 1);
    assert.ok(total(samples, 'callvault_key_service_calls_total', { operation: 'generate', outcome: 'ok' }) >= 3, 'one data key per stored recording');
    assert.ok(total(samples, 'callvault_key_service_calls_total', { operation: 'decrypt', outcome: 'ok' }) >= 1);
    assert.equal(total(samples, 'callvault_key_service_calls_total', { outcome: 'error' }), 0);
    assert.equal(total(samples, 'callvault_data_key_cache_total', { result: 'miss' }), 1, 'the first playback unwraps the key');
    assert.equal(total(samples, 'callvault_data_key_cache_total', { result: 'hit' }), 1, 'the range request reuses it');
  });

  test('audit writes, and the write that failed', async () => {
    const rows = Number((await vault.deps.db('audit_events').count<{ count: string }[]>('* as count'))[0]?.count);
    assert.equal(total(samples, 'callvault_audit_writes_total', { outcome: 'ok' }), rows, 'one count per durable event');
    assert.ok(total(samples, 'callvault_audit_writes_total', { outcome: 'failed' }) >= 1);
  });

  test('retention counters and lag', () => {
    assert.equal(total(samples, 'callvault_retention_deleted_total'), 1);
    assert.equal(total(samples, 'callvault_retention_skipped_hold_total'), 1, 'counted by the pass; the dry run changes no counter');
    assert.equal(total(samples, 'callvault_retention_failed_total'), 0);
    const overdue = (Date.now() - Date.parse('2020-01-01T00:00:01Z')) / 1000;
    assert.ok(Math.abs(lagAfterDryRun - overdue) < 120, `lag before the pass is the age of the oldest overdue recording (${lagAfterDryRun})`);
    assert.equal(total(samples, 'callvault_retention_lag_seconds'), 0, 'nothing deletable is overdue after the pass');
  });

  test('anomaly refusals by kind', () => {
    assert.equal(total(samples, 'callvault_anomaly_refusals_total', { kind: 'download_rate' }), 1);
    assert.equal(total(samples, 'callvault_anomaly_refusals_total', { kind: 'rate_limit_ip' }), 0);
  });

  test('process metrics are there too', () => {
    assert.ok(total(samples, 'callvault_process_resident_memory_bytes') > 0);
  });
});
