import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { probeWav } from '../../src/audio/index.js';
import { FIXTURE_FILES, fixturePath, OTHER_CONTAINER_FILES } from '../helpers/fixtures.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { current, decode, json, plaintextOf, postRedaction, upload, type RedactionReceipt } from './support.js';

/**
 * Every format ingest accepts (the four sample calls and the FLAC, Ogg/Vorbis and WebM derived
 * from them) is redactable, sample-accurately: the frames a range touches hold
 * the fill afterwards, every other frame (and, for WAV, every other byte) is what it was.
 */

const TONE = (frame: number, rate: number): number => 0.1 * Math.sin((2 * Math.PI * 1000 * frame) / rate);

describe('redaction of every sample format', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(() => vault.close());

  for (const fixture of [...FIXTURE_FILES, ...OTHER_CONTAINER_FILES]) {
    test(`${fixture}: the ranges hold the fill, nothing else changed, a new version under a new key`, async () => {
      const original = await readFile(fixturePath(fixture));
      const receipt = await upload(vault, `fmt-${fixture.replace(/\./g, '-')}`, { body: original });
      const before = await current(vault, receipt.id);
      const stereo = fixture.includes('stereo');
      const fill = stereo ? 'tone' : 'silence';
      const ranges = stereo ? [{ startMs: 2000, endMs: 3500 }, { startMs: 5000, endMs: 6250, channel: 1 }] : [{ startMs: 2000, endMs: 3500 }];
      const res = await postRedaction(vault, receipt.id, { ranges, fill, reason: 'card number read out', category: 'pci' });
      assert.equal(res.status, 201, res.body.toString());
      const r = res.json<RedactionReceipt>();
      assert.equal(r.version, 2);
      assert.equal(r.previousSha256, receipt.sha256);
      assert.notEqual(r.sha256, receipt.sha256);
      assert.deepEqual(r.ranges, ranges);
      assert.equal(r.contentType, 'audio/wav', 'WAV stays WAV; the compressed formats are stored as WAV PCM16');
      if (fixture.endsWith('.wav')) assert.equal(r.sizeBytes, original.length, 'WAV is rewritten in place');

      const after = await current(vault, receipt.id);
      assert.equal(after.version, 2);
      assert.notEqual(after.objectKey, before.objectKey);
      assert.ok(after.wrappedKey && before.wrappedKey && !after.wrappedKey.equals(before.wrappedKey), 'a new data key');
      const redacted = await plaintextOf(vault, receipt.id);
      assert.equal(createHash('sha256').update(redacted).digest('hex'), r.sha256);
      assert.equal(redacted.length, r.sizeBytes);

      const want = await decode(original, before.contentType);
      const got = await decode(redacted, 'audio/wav');
      const rate = want.sampleRate;
      assert.equal(got.sampleRate, rate);
      assert.equal(got.channels.length, want.channels.length);
      assert.equal(got.channels[0]?.length, want.channels[0]?.length, 'the same number of frames');
      const spans = ranges.map((x) => ({ start: Math.floor((x.startMs * rate) / 1000), end: Math.ceil((x.endMs * rate) / 1000), channel: 'channel' in x ? x.channel : null }));
      const covered = (f: number, c: number): boolean => spans.some((s) => f >= s.start && f < s.end && (s.channel === null || s.channel === c));
      // Lossy sources are compared after their one PCM16 quantisation; WAV sources exactly.
      const tolerance = fixture.endsWith('.wav') ? 0 : 1.01 / 32768;
      const toneTolerance = 1.01 / 32768;
      for (const [c, samples] of got.channels.entries()) {
        const source = want.channels[c] ?? new Float32Array(0);
        let loudest = 0;
        for (let f = 0; f < samples.length; f++) {
          const v = samples[f] ?? NaN;
          if (covered(f, c)) {
            loudest = Math.max(loudest, Math.abs(source[f] ?? 0));
            const expected = fill === 'tone' ? TONE(f, rate) : 0;
            assert.ok(Math.abs(v - expected) <= toneTolerance, `frame ${f} channel ${c}: ${v}, expected the fill ${expected}`);
          } else {
            assert.ok(Math.abs(v - (source[f] ?? NaN)) <= tolerance, `frame ${f} channel ${c} changed: ${v} vs ${source[f]}`);
          }
        }
        if (spans.some((s) => s.channel === null || s.channel === c)) assert.ok(loudest > 0.01, 'the redacted span held speech, so the test could fail');
      }

      if (fixture.endsWith('.wav')) {
        const info = probeWav(original);
        assert.ok(info);
        const inSpans = (at: number): boolean => {
          if (at < info.dataOffset) return false;
          const frame = Math.floor((at - info.dataOffset) / info.blockAlign);
          const channel = Math.floor(((at - info.dataOffset) % info.blockAlign) / info.bytesPerSample);
          return covered(frame, channel);
        };
        for (let at = 0; at < original.length; at++) {
          if (original[at] !== redacted[at]) assert.ok(inSpans(at), `byte ${at} outside the ranges changed`);
        }
      }

      const sup = await vault.token('supervisor');
      const listed = await json(vault, 'GET', `/v1/recordings?callId=${encodeURIComponent(receipt.callId)}`, sup);
      const item = listed.json<{ items: Array<{ sha256: string; sizeBytes: number; version: number; contentType: string }> }>().items[0];
      assert.deepEqual(item && [item.sha256, item.sizeBytes, item.version, item.contentType], [r.sha256, r.sizeBytes, 2, 'audio/wav'], 'search shows the redacted version');
    });
  }
});

describe('a redaction larger than recordings may be', () => {
  let vault: TestVault;
  // The MP3 sample (71 KB) is accepted; redacted, it is stored as WAV PCM16 of about 280 KB.
  before(async () => { vault = await startVault({ env: { MAX_RECORDING_BYTES: '150000' } }); });
  after(() => vault.close());

  test('is refused 422 redaction_too_large (not 413: the request was small), and the recording stays as it was', async () => {
    const r = await upload(vault, 'too-large-redacted', { fixture: 'call-8k-mono.mp3' });
    const before = await current(vault, r.id);
    const res = await postRedaction(vault, r.id, { ranges: [{ startMs: 1000, endMs: 2000 }], fill: 'silence', reason: 'card number read out', category: 'pci' });
    assert.equal(res.status, 422, res.body.toString());
    assert.equal(res.json<{ code: string }>().code, 'redaction_too_large');
    assert.match(res.json<{ detail: string }>().detail, /MAX_RECORDING_BYTES, 150000 bytes/);
    const after = await current(vault, r.id);
    assert.deepEqual([after.version, after.sha256, after.objectKey], [before.version, before.sha256, before.objectKey]);
    const objects: string[] = [];
    for await (const o of vault.deps.store.list('recordings/')) objects.push(o.key);
    assert.deepEqual(objects, [before.objectKey], 'the partial redacted object was removed');
  });
});
