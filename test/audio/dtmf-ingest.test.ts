import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { WavCodec } from '../../src/audio/index.js';
import { openPlayback } from '../../src/media/playback.js';
import type { Receipt } from '../../src/recordings/types.js';
import { FILL_TONE_HZ, FILL_TONE_LEVEL } from '../../src/audio/dtmf-fill.js';
import { DtmfDetector } from '../../src/audio/dtmf.js';
import { assertNoKeyTones, callWithPresses, decodeAll, FIXTURE_PRESSES, toneLevel, type Press } from '../helpers/dtmf-audio.js';
import { multipartUpload, request } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { encodeWav } from '../helpers/wav.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const DTMF_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/dtmf');

/** The sample call with key presses, in each format ingest takes. */
async function formats(): Promise<Array<{ name: string; bytes: Buffer; type: string }>> {
  const call = await callWithPresses();
  const wav = (codec: WavCodec): Buffer => encodeWav(codec, 8000, [call]);
  return [
    { name: 'wav-pcm16', bytes: wav('pcm16'), type: 'audio/wav' },
    { name: 'wav-mulaw', bytes: wav('mulaw'), type: 'audio/wav' },
    { name: 'wav-alaw', bytes: wav('alaw'), type: 'audio/wav' },
    { name: 'mp3', bytes: await readFile(path.join(DTMF_FIXTURES, 'call-dtmf-8k-mono.mp3')), type: 'audio/mpeg' },
    { name: 'opus', bytes: await readFile(path.join(DTMF_FIXTURES, 'call-dtmf-8k-mono.opus')), type: 'audio/ogg; codecs=opus' },
    { name: 'flac', bytes: await readFile(path.join(DTMF_FIXTURES, 'call-dtmf-8k-mono.flac')), type: 'audio/flac' },
    { name: 'vorbis', bytes: await readFile(path.join(DTMF_FIXTURES, 'call-dtmf-8k-mono-vorbis.ogg')), type: 'audio/ogg; codecs=vorbis' },
    { name: 'webm', bytes: await readFile(path.join(DTMF_FIXTURES, 'call-dtmf-8k-mono.webm')), type: 'audio/webm' },
  ];
}

const card = FIXTURE_PRESSES.slice(1, 17);
const code = FIXTURE_PRESSES.slice(17, 20);
const startMs = (ps: readonly Press[]): number => (ps[0] as Press).at * 1000;
const endMs = (ps: readonly Press[]): number => ((ps.at(-1) as Press).at + (ps.at(-1) as Press).seconds) * 1000;

/** Uploads the call in `format` to a masking tenant and checks what is stored, the receipt and the audit event. */
async function checkMasked(vault: TestVault, pbx: string, format: string): Promise<void> {
  const f = (await formats()).find((x) => x.name === format);
  assert.ok(f);
  const res = await request(vault, { method: 'PUT', path: `/v1/recordings/dtmf-${format}`, body: f.bytes, token: pbx, headers: { 'x-checksum-sha256': sha(f.bytes) } });
  assert.equal(assertContract('put', `/v1/recordings/dtmf-${format}`, res).status, 201, res.body.toString());
  const receipt = res.json<Receipt>();
  const dtmf = receipt.dtmf;
  assert.ok(dtmf, 'the receipt says the recording was masked');
  assert.deepEqual(dtmf.received, { sha256: sha(f.bytes), sizeBytes: f.bytes.length, contentType: f.type });
  assert.equal(dtmf.transcoded, !f.name.startsWith('wav'));
  assert.equal(receipt.contentType, 'audio/wav', 'compressed formats are stored as WAV PCM16; a WAV stays a WAV');
  if (f.name.startsWith('wav')) assert.equal(receipt.sizeBytes, f.bytes.length, 'a WAV is masked in place');

  // The press at 1 s is within 3 s of the card number: one run of 17 digits, masked whole
  // from that press on; the code after it is one span; the last press is a span of its own.
  assert.equal(dtmf.spans.length, 3, JSON.stringify(dtmf.spans));
  const [cardSpan, codeSpan, last] = dtmf.spans;
  assert.ok(cardSpan && cardSpan.startMs <= 1000 && cardSpan.endMs >= endMs(card) && cardSpan.endMs <= endMs(card) + 50);
  assert.ok(codeSpan && codeSpan.startMs <= startMs(code) && codeSpan.endMs >= endMs(code) && codeSpan.startMs > endMs(card));
  assert.ok(last && last.startMs <= 15000 && last.endMs >= 15100 && last.endMs - last.startMs <= 150);

  const recording = await vault.deps.recordings.findActive('acme', receipt.id);
  assert.ok(recording);
  const stored = await buffer(await openPlayback(vault.deps, recording));
  assert.equal(sha(stored), receipt.sha256, 'the receipt describes the stored bytes');
  const { rate, channels } = await decodeAll(stored, 'audio/wav');
  const samples = channels[0] as Float32Array;
  assertNoKeyTones(samples, rate, FIXTURE_PRESSES, format);
  const between = samples.subarray(rate * 8, rate * 9);
  assert.ok(Math.sqrt(between.reduce((e, v) => e + v * v, 0) / between.length) > 0.01, 'the call away from the key presses is kept');

  const [event] = await vault.deps.db('audit_events').where({ action: 'recording.uploaded', recording_id: receipt.id }).select<Array<{ details: Record<string, unknown> }>>('details');
  assert.ok(event);
  assert.deepEqual(event.details.dtmf, dtmf, 'the audit event carries what the receipt says');
  assert.doesNotMatch(JSON.stringify(event.details), /4111|digit/, 'times only, never digits');

  const again = await request(vault, { method: 'PUT', path: `/v1/recordings/dtmf-${format}`, body: f.bytes, token: pbx });
  assert.equal(again.status, 200, 'a retry with the same received bytes gets the same receipt');
  assert.deepEqual(again.json<Receipt>(), receipt);
}

describe('DTMF masking at ingest (tenant setting dtmf: mask)', () => {
  let vault: TestVault;
  let pbx: string;
  before(async () => {
    vault = await startVault();
    pbx = await vault.token('pbx');
    const admin = await vault.token('admin');
    const res = await request(vault, {
      method: 'PUT', path: '/v1/tenant-settings', token: admin,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dtmf: 'mask' }),
    });
    assert.equal(assertContract('put', '/v1/tenant-settings', res).status, 200, res.body.toString());
    assert.deepEqual(res.json(), { tenant: 'acme', defaultPolicy: 'default', kmsKeyId: null, keyProvider: 'local', dtmf: 'mask', dtmfFill: 'silence' }, 'the default policy is left as it was');
    const empty = await request(vault, { method: 'PUT', path: '/v1/tenant-settings', token: admin, headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(empty.status, 400, 'a PUT that names no setting is refused');
    const wrong = await request(vault, { method: 'PUT', path: '/v1/tenant-settings', token: admin, headers: { 'content-type': 'application/json' }, body: '{"dtmf":"drop"}' });
    assert.equal(wrong.status, 400);
  });
  after(async () => { await vault.close(); });

  for (const format of ['wav-pcm16', 'wav-mulaw', 'wav-alaw', 'mp3', 'opus', 'flac', 'vorbis', 'webm']) {
    test(`${format}: the stored, decrypted audio has no key tone left; receipt and audit event carry the spans, times only`, () => checkMasked(vault, pbx, format));
  }

  test('dtmfFill: tone fills the masked spans with a flat tone instead of silence; the change is audited', async () => {
    const admin = await vault.token('admin');
    const put = async (body: object): Promise<Awaited<ReturnType<typeof request>>> => request(vault, { method: 'PUT', path: '/v1/tenant-settings', token: admin, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await put({ dtmfFill: 'tone' });
    assert.equal(assertContract('put', '/v1/tenant-settings', res).status, 200, res.body.toString());
    assert.deepEqual(res.json(), { tenant: 'acme', defaultPolicy: 'default', kmsKeyId: null, keyProvider: 'local', dtmf: 'mask', dtmfFill: 'tone' });
    assert.equal((await put({ dtmfFill: 'noise' })).status, 400);
    const [change] = await vault.deps.db('audit_events').where({ action: 'policy.updated' }).orderBy('seq', 'desc').limit(1).select<Array<{ details: Record<string, unknown> }>>('details');
    assert.deepEqual(change?.details, { dtmfFill: 'tone', previousDtmfFill: 'silence' });
    try {
      const f = (await formats()).find((x) => x.name === 'flac');
      assert.ok(f);
      const up = await request(vault, { method: 'PUT', path: '/v1/recordings/dtmf-tone', body: f.bytes, token: pbx });
      assert.equal(up.status, 201, up.body.toString());
      const receipt = up.json<Receipt>();
      assert.equal(receipt.dtmf?.spans.length, 3);
      const recording = await vault.deps.recordings.findActive('acme', receipt.id);
      assert.ok(recording);
      const { rate, channels } = await decodeAll(await buffer(await openPlayback(vault.deps, recording)), 'audio/wav');
      const samples = channels[0] as Float32Array;
      const d = new DtmfDetector(rate);
      assert.deepEqual([...d.push(samples), ...d.flush()], [], 'no key press is left');
      for (const p of FIXTURE_PRESSES) {
        const from = Math.round(p.at * rate); const to = Math.round((p.at + p.seconds) * rate);
        assert.ok(Math.abs(toneLevel(samples, from, to, FILL_TONE_HZ, rate) - FILL_TONE_LEVEL) < 0.01, `the flat tone where ${p.at} s was pressed`);
      }
    } finally {
      assert.equal((await put({ dtmfFill: 'silence' })).status, 200);
    }
  });

  test('a multipart upload is masked the same way', async () => {
    const f = (await formats())[1];
    assert.ok(f);
    const form = multipartUpload('dtmf-form', f.bytes);
    const res = await request(vault, { method: 'POST', path: '/v1/recordings', body: form.body, token: pbx, headers: { 'content-type': form.type } });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.json<Receipt>().dtmf?.spans.length, 3);
  });

  test('audio that does not decode is refused (422) while masking is on, and nothing is kept', async () => {
    const flac = Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(4000, 1)]);
    const res = await request(vault, { method: 'PUT', path: '/v1/recordings/dtmf-fake-flac', body: flac, token: pbx });
    assert.equal(res.status, 422, res.body.toString());
    assert.equal(res.json<{ code: string }>().code, 'audio_undecodable');
    const broken = Buffer.concat([(await formats())[0]?.bytes.subarray(0, 36) ?? Buffer.alloc(0), Buffer.from('junk'), Buffer.alloc(100)]);
    const bad = await request(vault, { method: 'PUT', path: '/v1/recordings/dtmf-broken', body: broken, token: pbx });
    assert.equal(bad.status, 422, bad.body.toString());
    assert.equal(await vault.deps.recordings.findByCallId('acme', 'dtmf-fake-flac'), null);
    assert.equal(await vault.deps.recordings.findByCallId('acme', 'dtmf-broken'), null);
  });

  test('a tenant that keeps key presses stores what it sent, and its receipt has no dtmf', async () => {
    const original = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const other = await vault.token('pbx', { tenant: 'globex' });
    const res = await request(vault, { method: 'PUT', path: '/v1/recordings/kept', body: original, token: other });
    assert.equal(res.status, 201);
    const receipt = res.json<Receipt>();
    assert.equal(receipt.sha256, sha(original));
    assert.equal(receipt.dtmf, undefined);
    const row = await vault.deps.db('recordings').where({ id: receipt.id }).first<{ received_sha256: string | null; dtmf_spans: unknown }>('received_sha256', 'dtmf_spans');
    assert.deepEqual(row, { received_sha256: null, dtmf_spans: null }, 'nothing about masking is recorded');
  });
});

describe('DTMF masking at ingest on S3 with KMS', () => {
  let vault: TestVault;
  let pbx: string;
  before(async () => {
    vault = await startVault({ storage: 's3', keys: 'aws-kms' });
    pbx = await vault.token('pbx');
    await vault.deps.tenants.update('acme', { dtmf: 'mask' });
  });
  after(async () => { await vault.close(); });

  for (const format of ['wav-mulaw', 'mp3']) {
    test(`${format}: masked the same way through the S3 multipart upload and KMS data keys`, () => checkMasked(vault, pbx, format));
  }
});
