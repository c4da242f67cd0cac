import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { probeWav, type WavCodec } from '../../src/audio/index.js';
import { dtmfMaskStage, type DtmfMaskReport } from '../../src/audio/dtmf-mask.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FILL_TONE_HZ, FILL_TONE_LEVEL, type MaskFill } from '../../src/audio/dtmf-fill.js';
import { DtmfDetector } from '../../src/audio/dtmf.js';
import { addPresses, assertNoKeyTones, decodeAll, FIXTURE_PRESSES, frequenciesOf, seeded, talkOffSecond, toneLevel, type Press } from '../helpers/dtmf-audio.js';
import { encodeWav } from '../helpers/wav.js';

/** Runs the masking stage over `bytes` handed in chunks of uneven sizes. */
async function mask(bytes: Buffer, type: string, fill: MaskFill = 'silence'): Promise<{ out: Buffer; report: DtmfMaskReport }> {
  const report: DtmfMaskReport = { contentType: null, transcoded: false, spans: [] };
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0, n = 7; at < bytes.length; at += n, n = (n * 13 + 5) % 9000 + 1) yield bytes.subarray(at, at + n);
  }
  const parts: Buffer[] = [];
  for await (const part of dtmfMaskStage(() => type, report, fill)(chunks())) parts.push(part);
  return { out: Buffer.concat(parts), report };
}

/** Speech-like background some 20 dB below the presses, with the presses mixed in. */
function call(rate: number, seconds: number, presses: readonly Press[]): Float32Array {
  const rand = seeded(rate);
  const out = new Float32Array(rate * seconds);
  for (let s = 0; s < seconds; s++) out.set(talkOffSecond(rate, s, rand).map((v) => v * 0.05), s * rate);
  addPresses(out, rate, presses, rand);
  return out;
}

const presses: Press[] = [
  { digit: '1', at: 1.0, seconds: 0.04, level: 0.2 }, { digit: '#', at: 2.31, seconds: 0.12, level: 0.1, twistDb: 6 },
  { digit: '0', at: 3.003, seconds: 0.05, level: 0.3, twistDb: -6 }, { digit: 'D', at: 4.5, seconds: 0.6, level: 0.2 },
];

describe('DTMF masking stage', () => {
  for (const [codec, rate, channels] of [['mulaw', 8000, 1], ['alaw', 8000, 1], ['pcm16', 16000, 2], ['pcm16', 48000, 1]] as const) {
    test(`WAV ${codec} ${rate} Hz ${channels} ch: key presses silenced in place, every other byte as received`, async () => {
      const mono = call(rate, 6, presses);
      const source = Array.from({ length: channels }, (_, c) => (c === 0 ? mono : call(rate, 6, [])));
      const wav = encodeWav(codec as WavCodec, rate, source);
      const { out, report } = await mask(wav, 'audio/wav');
      assert.equal(report.contentType, 'audio/wav');
      assert.equal(report.transcoded, false);
      assert.equal(out.length, wav.length);
      const info = probeWav(wav);
      assert.ok(info);
      assert.deepEqual(out.subarray(0, info.dataOffset), wav.subarray(0, info.dataOffset), 'the header is kept');
      const masked = await decodeAll(out, 'audio/wav');
      masked.channels.forEach((ch, c) => assertNoKeyTones(ch, rate, c === 0 ? presses : [], `channel ${c}`));
      // Times only, each press inside a span, and nothing outside the spans changed.
      assert.equal(report.spans.length, presses.length);
      presses.forEach((p, i) => {
        const s = report.spans[i];
        assert.ok(s && s.startMs <= p.at * 1000 && s.endMs >= (p.at + p.seconds) * 1000, `span ${JSON.stringify(s)} covers press at ${p.at}`);
        assert.ok(s.endMs - s.startMs <= p.seconds * 1000 + 80, 'a span is the press and its guards, not more');
      });
      const frameBytes = info.blockAlign;
      const inSpan = (frame: number): boolean => report.spans.some((s) => frame * 1000 >= s.startMs * rate - rate && frame * 1000 < s.endMs * rate + rate);
      for (let at = info.dataOffset; at < wav.length; at += frameBytes) {
        const frame: number = (at - info.dataOffset) / frameBytes;
        if (!inSpan(frame)) assert.equal(out.compare(wav, at, at + frameBytes, at, at + frameBytes), 0, `frame ${frame} is unchanged`);
      }
    });
  }

  test('card entry: the gaps of a 16-digit run and of the 3-digit code after it are masked; a short run keeps its gaps', async () => {
    const rate = 8000;
    const card: Press[] = [...'4111111111111111'].map((digit, i) => ({ digit, at: 1 + i * 0.3, seconds: 0.06, level: 0.2 }));
    const code: Press[] = [...'737'].map((digit, i) => ({ digit, at: 11 + i * 0.4, seconds: 0.06, level: 0.2 }));
    const menu: Press[] = [...'12'].map((digit, i) => ({ digit, at: 22 + i * 0.5, seconds: 0.06, level: 0.2 }));
    const all = [...card, ...code, ...menu];
    const wav = encodeWav('pcm16', rate, [call(rate, 25, all)]);
    const { out, report } = await mask(wav, 'audio/wav');
    const first = (ps: Press[]): number => (ps[0] as Press).at * 1000;
    const last = (ps: Press[]): number => ((ps.at(-1) as Press).at + 0.06) * 1000;
    assert.equal(report.spans.length, 4, JSON.stringify(report.spans));
    const [cardSpan, codeSpan, menu1, menu2] = report.spans;
    assert.ok(cardSpan && cardSpan.startMs <= first(card) && cardSpan.endMs >= last(card) && cardSpan.endMs < last(card) + 100, 'the card number is one span');
    assert.ok(codeSpan && codeSpan.startMs <= first(code) && codeSpan.endMs >= last(code) && codeSpan.startMs > last(card), 'the code is one span of its own');
    assert.ok(menu1 && menu2 && menu1.endMs < menu2.startMs, 'a short run is masked press by press');
    const decoded = (await decodeAll(out, 'audio/wav')).channels[0] as Float32Array;
    const silent = (fromMs: number, toMs: number): boolean => decoded.subarray(fromMs * 8, toMs * 8).every((v) => v === 0);
    assert.ok(silent(first(card), last(card)), 'between the card digits: silence');
    assert.ok(silent(first(code), last(code)), 'between the code digits: silence');
    assert.ok(!silent(menu1?.endMs ?? 0, menu2?.startMs ?? 0), 'between two menu digits: the call as it was');
  });

  test('a type no decoder reads is refused (415) when masking is on, and undecodable bytes of a known type fail (422): nothing unchecked is stored', async () => {
    await assert.rejects(mask(Buffer.from('fLaC0000000000000000000000000000000000000000'), 'audio/aac'), (err: Error & { code?: string }) => err.code === 'unsupported_media_type');
    await assert.rejects(mask(Buffer.from('fLaC0000000000000000000000000000000000000000'), 'audio/flac'), (err: Error & { code?: string }) => err.code === 'audio_undecodable');
  });
});

/** Each press's span holds the fill tone, and neither of the press's own tones is left. */
function assertToneFilled(x: Float32Array, rate: number, ps: readonly Press[], label: string): void {
  const d = new DtmfDetector(rate);
  assert.deepEqual([...d.push(x), ...d.flush()], [], `${label}: the fill tone is not heard as a key press`);
  for (const p of ps) {
    const from = Math.round(p.at * rate); const to = Math.round((p.at + p.seconds) * rate);
    const fill = toneLevel(x, from, to, FILL_TONE_HZ, rate);
    assert.ok(Math.abs(fill - FILL_TONE_LEVEL) < 0.01, `${label}: the flat tone where ${p.digit} was pressed (${fill})`);
    const { row, col } = frequenciesOf(p.digit);
    for (const f of [row, col]) {
      const left = toneLevel(x, from, to, f, rate);
      assert.ok(left < FILL_TONE_LEVEL / 10, `${label}: ${f} Hz at most the fill's leakage where ${p.digit} was pressed (${left})`);
    }
  }
}

describe('DTMF masking with fill: tone', () => {
  for (const [codec, rate, channels] of [['mulaw', 8000, 1], ['pcm16', 16000, 2]] as const) {
    test(`WAV ${codec} ${rate} Hz ${channels} ch: each masked span holds a flat ${FILL_TONE_HZ} Hz tone in every channel, not the key`, async () => {
      const source = Array.from({ length: channels }, (_, c) => call(rate, 6, c === 0 ? presses : []));
      const wav = encodeWav(codec as WavCodec, rate, source);
      const { out, report } = await mask(wav, 'audio/wav', 'tone');
      assert.equal(out.length, wav.length, 'a WAV keeps its size');
      assert.equal(report.spans.length, presses.length);
      const masked = await decodeAll(out, 'audio/wav');
      masked.channels.forEach((ch, c) => assertToneFilled(ch, rate, presses, `channel ${c}`));
    });
  }

  test('a decoded recording (FLAC) stored as WAV PCM16 gets the same tone; silence stays the default', async () => {
    const rate = 8000;
    const { out, report } = await mask(encodeWav('pcm16', rate, [call(rate, 6, presses)]), 'audio/wav');
    assert.equal(report.spans.length, presses.length, 'silence by default');
    assertNoKeyTones((await decodeAll(out, 'audio/wav')).channels[0] as Float32Array, rate, presses, 'silence');
    const flac = await readFile(path.resolve(import.meta.dirname, '../fixtures/dtmf/call-dtmf-8k-mono.flac'));
    const toned = await mask(flac, 'audio/flac', 'tone');
    assert.equal(toned.report.transcoded, true);
    const { rate: storedRate, channels } = await decodeAll(toned.out, 'audio/wav');
    assertToneFilled(channels[0] as Float32Array, storedRate, FIXTURE_PRESSES, 'FLAC');
  });
});

describe('DTMF masking holds back only what is undecided', () => {
  test('tens of milliseconds without key presses or while a key is held; an undecided run at most 30 s, then masked whole', async () => {
    const rate = 8000;
    const slowRun: Press[] = Array.from({ length: 12 }, (_, i) => ({ digit: '9', at: 20 + i * 2.9, seconds: 0.06, level: 0.2 }));
    const wav = encodeWav('pcm16', rate, [call(rate, 70, [{ digit: '3', at: 10, seconds: 5, level: 0.2 }, ...slowRun])]);
    const report: DtmfMaskReport = { contentType: null, transcoded: false, spans: [] };
    let consumed = 0;
    let emitted = 0;
    const lags: Array<{ at: number; lag: number }> = [];
    async function* source(): AsyncGenerator<Buffer> {
      for (let at = 0; at < wav.length; at += 1600) {
        lags.push({ at: consumed / (2 * rate), lag: (consumed - emitted) / (2 * rate) });
        consumed += Math.min(1600, wav.length - at);
        yield wav.subarray(at, at + 1600);
      }
    }
    for await (const part of dtmfMaskStage(() => 'audio/wav', report)(source())) emitted += part.length;
    assert.equal(emitted, wav.length);
    const worst = (from: number, to: number): number => Math.max(...lags.filter((l) => l.at >= from && l.at < to).map((l) => l.lag));
    assert.ok(worst(0, 10) < 0.2, `before any press: ${worst(0, 10)} s held`);
    assert.ok(worst(10.2, 15) < 0.2, `while a key is held: ${worst(10.2, 15)} s held`);
    assert.ok(worst(15, 70) <= 30.2, `an undecided run: ${worst(15, 70)} s held`);
    assert.ok(worst(15, 70) > 20, 'the slow run was held while undecided');
    const run = report.spans.find((s) => s.startMs <= 20000 && s.endMs >= 20000);
    assert.ok(run && run.endMs >= (20 + 11 * 2.9) * 1000, `the run is masked whole: ${JSON.stringify(report.spans)}`);
  });
});
