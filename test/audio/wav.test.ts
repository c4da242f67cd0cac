import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  AudioDecodeError, BYTES_PER_SAMPLE, decodeAudio, encodeSample, probeWav, readSample, type WavCodec,
} from '../../src/audio/index.js';
import { chunk, collect, encodeFrames, encodeWav, inChunks, sine, wavHead } from '../helpers/wav.js';

const CODECS: readonly WavCodec[] = ['pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32', 'mulaw', 'alaw'];

describe('sample codecs', () => {
  test('every G.711 code byte decodes and encodes back to itself (mu-law has two zeros)', () => {
    for (const codec of ['mulaw', 'alaw'] as const) {
      for (let code = 0; code < 256; code++) {
        if (codec === 'mulaw' && code === 0x7f) continue;
        const value = readSample(codec, Buffer.from([code]), 0);
        assert.equal(encodeSample(codec, value)[0], code, `${codec} ${code.toString(16)}`);
      }
    }
    assert.equal(encodeSample('mulaw', readSample('mulaw', Buffer.from([0x7f]), 0))[0], 0xff);
  });

  test('G.711 follows the ITU-T tables: silence, full scale and sign', () => {
    assert.deepEqual([...encodeSample('mulaw', 0)], [0xff]);
    assert.deepEqual([...encodeSample('alaw', 0)], [0xd5]);
    assert.deepEqual([...encodeSample('mulaw', 1)], [0x80]);
    assert.deepEqual([...encodeSample('mulaw', -1)], [0x00]);
    assert.deepEqual([...encodeSample('alaw', 1)], [0xaa]);
    assert.deepEqual([...encodeSample('alaw', -1)], [0x2a]);
    assert.equal(readSample('mulaw', Buffer.from([0x80]), 0), 32124 / 32768);
    assert.equal(readSample('alaw', Buffer.from([0xaa]), 0), 32256 / 32768);
  });

  test('every 16-bit PCM value round-trips exactly; out-of-range floats clamp', () => {
    const buf = Buffer.alloc(2);
    for (let v = -32768; v <= 32767; v++) {
      buf.writeInt16LE(v, 0);
      assert.equal(encodeSample('pcm16', readSample('pcm16', buf, 0)).readInt16LE(0), v);
    }
    assert.equal(encodeSample('pcm16', 2).readInt16LE(0), 32767);
    assert.equal(encodeSample('pcm16', -2).readInt16LE(0), -32768);
    assert.equal(encodeSample('pcm16', Number.NaN).readInt16LE(0), 0);
  });

  test('each codec writes its own sample width and keeps the value within its quantisation', () => {
    for (const codec of CODECS) {
      const bytes = encodeSample(codec, 0.3);
      assert.equal(bytes.length, BYTES_PER_SAMPLE[codec]);
      const tolerance = codec === 'mulaw' || codec === 'alaw' ? 0.3 * 0.07 : codec === 'pcm8' ? 1 / 128 : 1e-4;
      assert.ok(Math.abs(readSample(codec, bytes, 0) - 0.3) <= tolerance, codec);
    }
  });
});

describe('probeWav', () => {
  test('describes codec, channels, rate, frame size and where the samples are', () => {
    for (const codec of CODECS) {
      const head = wavHead({ codec, channels: 2, sampleRate: 8000, dataBytes: 1000 * 2 * BYTES_PER_SAMPLE[codec] });
      assert.deepEqual(probeWav(head), {
        codec, channels: 2, sampleRate: 8000, bytesPerSample: BYTES_PER_SAMPLE[codec], blockAlign: 2 * BYTES_PER_SAMPLE[codec],
        dataOffset: 44, dataBytes: 2000 * BYTES_PER_SAMPLE[codec],
      });
    }
  });

  test('skips metadata chunks, odd-sized ones padded, and asks for more while the data chunk is out of reach', () => {
    const extra = Buffer.concat([chunk('LIST', Buffer.alloc(301, 0x41)), chunk('fact', Buffer.alloc(4))]);
    const head = wavHead({ codec: 'alaw', channels: 1, sampleRate: 8000, dataBytes: 10, extraChunks: extra });
    const info = probeWav(head);
    assert.equal(info?.dataOffset, 44 + extra.length);
    assert.equal(extra.length, 8 + 302 + 8 + 4);
    for (const cut of [0, 11, 12, 40, 300, head.length - 1]) assert.equal(probeWav(head.subarray(0, cut)), null, `cut at ${cut}`);
  });

  test('an unknown data size (streamed by the PBX) runs to the end of the file', () => {
    assert.equal(probeWav(wavHead({ codec: 'mulaw', channels: 1, sampleRate: 8000, dataBytes: null }))?.dataBytes, null);
  });

  test('refuses what is not a decodable WAV', () => {
    assert.throws(() => probeWav(Buffer.from('OggS\0\0\0\0\0\0\0\0\0\0\0\0', 'latin1')), AudioDecodeError);
    const adpcm = wavHead({ codec: 'pcm16', channels: 1, sampleRate: 8000, dataBytes: 10 });
    adpcm.writeUInt16LE(2, 20);
    assert.throws(() => probeWav(adpcm), /WAV format 2/);
    const noChannels = wavHead({ codec: 'pcm16', channels: 1, sampleRate: 8000, dataBytes: 10 });
    noChannels.writeUInt16LE(0, 22);
    assert.throws(() => probeWav(noChannels), AudioDecodeError);
  });
});

describe('decodeAudio on generated WAVs', () => {
  const frames = 8000 * 3 + 17;
  const left = sine(440, 8000, frames, 0.6);
  const right = sine(1209, 8000, frames, 0.3);

  for (const codec of ['pcm16', 'mulaw', 'alaw', 'pcm24', 'float32'] as const) {
    test(`${codec}: the decoded samples are exactly the stored ones, whatever the chunking`, async () => {
      const file = encodeWav(codec, 8000, [left, right]);
      const stored = encodeFrames(codec, [left, right]);
      for (const size of [7, 4096, file.length]) {
        const out = await collect(decodeAudio(inChunks(file, size), 'audio/wav'));
        assert.equal(out.sampleRate, 8000);
        assert.equal(out.channels.length, 2);
        assert.equal(out.channels[0]?.length, frames, `frames with ${size}-byte chunks`);
        const width = BYTES_PER_SAMPLE[codec];
        for (let i = 0; i < frames; i += 97) {
          assert.equal(out.channels[0]?.[i], readSample(codec, stored, i * 2 * width));
          assert.equal(out.channels[1]?.[i], readSample(codec, stored, (i * 2 + 1) * width));
        }
        const tolerance = codec === 'mulaw' || codec === 'alaw' ? 0.02 : 1e-4;
        const worst = left.reduce((m, v, i) => Math.max(m, Math.abs(v - (out.channels[0]?.[i] ?? 9))), 0);
        assert.ok(worst <= tolerance, `${codec} error ${worst}`);
      }
    });
  }

  test('a data chunk of unknown size decodes to the end of the file; a declared size stops before trailing chunks', async () => {
    const samples = sine(300, 8000, 1000);
    const data = encodeFrames('mulaw', [samples]);
    const streamed = Buffer.concat([wavHead({ codec: 'mulaw', channels: 1, sampleRate: 8000, dataBytes: null }), data]);
    assert.equal((await collect(decodeAudio(inChunks(streamed, 333), 'audio/wav'))).channels[0]?.length, 1000);
    const trailed = Buffer.concat([encodeWav('mulaw', 8000, [samples]), chunk('LIST', Buffer.alloc(5000, 0x7f))]);
    assert.equal((await collect(decodeAudio(inChunks(trailed, 333), 'audio/wav'))).channels[0]?.length, 1000);
  });

  test('a WAV cut inside a frame yields the whole frames only', async () => {
    const file = encodeWav('pcm16', 8000, [left, right]);
    const out = await collect(decodeAudio(inChunks(file.subarray(0, 44 + 4 * 100 + 3), 5), 'audio/wav'));
    assert.equal(out.channels[0]?.length, 100);
  });

  test('a WAV that ends before its data chunk fails with 422', async () => {
    const head = wavHead({ codec: 'pcm16', channels: 1, sampleRate: 8000, dataBytes: 10 });
    await assert.rejects(collect(decodeAudio(inChunks(head.subarray(0, 30), 8), 'audio/wav')),
      (err: unknown) => err instanceof AudioDecodeError && err.status === 422 && err.code === 'audio_undecodable');
  });

  test('memory stays bounded: an hour of stereo PCM16 streams through without being kept', async () => {
    const rate = 8000;
    const seconds = 3600;
    const frameBytes = 4;
    const total = rate * seconds * frameBytes;
    const pattern = encodeFrames('pcm16', [sine(440, rate, 16384), sine(697, rate, 16384)]);
    async function* source(): AsyncGenerator<Buffer> {
      yield wavHead({ codec: 'pcm16', channels: 2, sampleRate: rate, dataBytes: total });
      for (let sent = 0; sent < total; sent += pattern.length) yield pattern.subarray(0, Math.min(pattern.length, total - sent));
    }
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let frames = 0;
    let blocks = 0;
    let loudest = 0;
    for await (const block of decodeAudio(source(), 'audio/wav')) {
      frames += block.channels[0]?.length ?? 0;
      loudest = Math.max(loudest, block.channels[1]?.[5] ?? 0);
      if (++blocks % 256 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(frames, rate * seconds);
    assert.ok(loudest > 0.1);
    // Kept whole, the decoded floats alone would take 2 x 115 MB.
    assert.ok(peak - baseline < 64 * 1024 * 1024, `RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB`);
  });
});
