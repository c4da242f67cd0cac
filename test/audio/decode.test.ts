import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { AudioDecodeError, canDecode, decodeAudio, probeWav } from '../../src/audio/index.js';
import { pipeline } from 'node:stream/promises';
import { AudioSniffer, MAX_SNIFF_BYTES, sniffAudio } from '../../src/ingest/sniff.js';
import { FIXTURE_FILES, OTHER_CONTAINER_FILES, fixturePath, type FixtureName } from '../helpers/fixtures.js';
import { collect, inChunks } from '../helpers/wav.js';
import { oggOpusPackets, webmCluster, webmHead } from '../helpers/webm.js';

/** MPEG-1/2/2.5 layer III: frame count from the headers, each frame's length from its bitrate. */
function mp3Frames(file: Buffer): { frames: number; samplesPerFrame: number; sampleRate: number } {
  const RATES = [[11025, 12000, 8000], [0, 0, 0], [22050, 24000, 16000], [44100, 48000, 32000]];
  const V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
  const V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  let at = 0;
  if (file.toString('latin1', 0, 3) === 'ID3') at = 10 + ((file[6]! << 21) | (file[7]! << 14) | (file[8]! << 7) | file[9]!);
  let frames = 0;
  let sampleRate = 0;
  let samplesPerFrame = 0;
  while (at + 4 <= file.length && file[at] === 0xff && (file[at + 1]! & 0xe0) === 0xe0) {
    const version = (file[at + 1]! >> 3) & 3;
    assert.equal((file[at + 1]! >> 1) & 3, 1, 'layer III');
    const kbps = (version === 3 ? V1 : V2)[file[at + 2]! >> 4]!;
    sampleRate = RATES[version]![(file[at + 2]! >> 2) & 3]!;
    samplesPerFrame = version === 3 ? 1152 : 576;
    at += Math.floor(((samplesPerFrame / 8) * kbps * 1000) / sampleRate) + ((file[at + 2]! >> 1) & 1);
    frames++;
  }
  assert.ok(at >= file.length - 128, 'walked to the end (or an ID3v1 tag)');
  return { frames, samplesPerFrame, sampleRate };
}

/** Ogg/Opus: the last page's granule position less the pre-skip, in 48 kHz samples. */
function opusSamples48k(file: Buffer): number {
  const last = file.lastIndexOf('OggS');
  const granule = Number(file.readBigInt64LE(last + 6));
  const preSkip = file.readUInt16LE(file.indexOf('OpusHead') + 10);
  return granule - preSkip;
}

/** FLAC: STREAMINFO's 36-bit total sample count (bytes 18..25 of the file hold rate, channels, bits and it). */
function flacTotalSamples(file: Buffer): number {
  return Number(file.readBigUInt64BE(18) & 0xfffffffffn);
}

function expectedFrames(name: FixtureName, file: Buffer, sampleRate: number): number {
  if (name.endsWith('.flac')) return flacTotalSamples(file);
  // Vorbis granule positions count samples at the stream's own rate, with no pre-skip.
  if (name.endsWith('vorbis.ogg')) return Number(file.readBigInt64LE(file.lastIndexOf('OggS') + 6));
  // The WebM holds the Ogg/Opus file's packets unchanged (test/fixtures/README.md).
  if (name.endsWith('.webm')) return (opusSamples48k(readFileSync(fixturePath('call-16k-mono.opus'))) * sampleRate) / 48000;
  if (name.endsWith('.wav')) {
    const info = probeWav(file);
    assert.ok(info?.dataBytes);
    return info.dataBytes / info.blockAlign;
  }
  if (name.endsWith('.mp3')) {
    const { frames, samplesPerFrame, sampleRate: rate } = mp3Frames(file);
    assert.equal(sampleRate, rate);
    return frames * samplesPerFrame;
  }
  return (opusSamples48k(file) * sampleRate) / 48000;
}

const EXPECT: Readonly<Record<FixtureName, { channels: number; sampleRate: number }>> = {
  'call-ulaw-8k-mono.wav': { channels: 1, sampleRate: 8000 },
  'call-pcm16-8k-stereo.wav': { channels: 2, sampleRate: 8000 },
  'call-8k-mono.mp3': { channels: 1, sampleRate: 8000 },
  'call-16k-mono.opus': { channels: 1, sampleRate: 16000 },
  'call-pcm16-8k-stereo.flac': { channels: 2, sampleRate: 8000 },
  'call-16k-mono-vorbis.ogg': { channels: 1, sampleRate: 16000 },
  'call-16k-mono.webm': { channels: 1, sampleRate: 16000 },
};

describe('decodeAudio on the sample recordings', () => {
  for (const name of [...FIXTURE_FILES, ...OTHER_CONTAINER_FILES]) {
    test(`${name}: decodes as a stream to the file's duration, channels and rate`, async () => {
      const file = readFileSync(fixturePath(name));
      const mediaType = sniffAudio(file.subarray(0, MAX_SNIFF_BYTES));
      assert.ok(mediaType && canDecode(mediaType));
      const out = await collect(decodeAudio(createReadStream(fixturePath(name), { highWaterMark: 4093 }), mediaType));
      assert.deepEqual({ channels: out.channels.length, sampleRate: out.sampleRate }, EXPECT[name]);
      assert.ok(out.blocks > 1, 'more than one block: decoded as it streamed');
      const frames = out.channels[0]!.length;
      assert.ok(Math.abs(frames - expectedFrames(name, file, out.sampleRate)) <= 1, `${frames} frames`);
      assert.ok(Math.abs(frames / out.sampleRate - 17.6) < 0.3, 'about 18 seconds of call');
      for (const samples of out.channels) {
        const peak = samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(peak > 0.2 && peak <= 1, `peak ${peak}`);
      }
    });
  }

  test('the stereo recording keeps agent and customer apart', async () => {
    const out = await collect(decodeAudio(createReadStream(fixturePath('call-pcm16-8k-stereo.wav')), 'audio/wav'));
    const differing = out.channels[0]!.filter((v, i) => v !== out.channels[1]![i]).length;
    assert.ok(differing > out.channels[0]!.length / 2);
  });

  test('the ingest sniffer, fed a recording in tiny pieces, names its type and passes every byte on in order', async () => {
    for (const name of [...FIXTURE_FILES, ...OTHER_CONTAINER_FILES]) {
      const file = readFileSync(fixturePath(name)).subarray(0, 200_000);
      const sniffer = new AudioSniffer();
      const passed: Buffer[] = [];
      sniffer.on('data', (b: Buffer) => passed.push(b));
      await pipeline(inChunks(file, 7), sniffer);
      assert.equal(sniffer.contentType, sniffAudio(file.subarray(0, MAX_SNIFF_BYTES)), name);
      assert.ok(Buffer.concat(passed).equals(file), `${name}: passed on whole`);
    }
  });

  test('chunking does not change what the compressed decoders produce', async () => {
    for (const name of ['call-8k-mono.mp3', 'call-16k-mono.opus', ...OTHER_CONTAINER_FILES] as const) {
      const file = readFileSync(fixturePath(name));
      const type = sniffAudio(file)!;
      const small = await collect(decodeAudio(inChunks(file, 333), type));
      const whole = await collect(decodeAudio(inChunks(file, file.length), type));
      assert.deepEqual(small.channels, whole.channels, name);
    }
  });

  test('FLAC is lossless: the samples are exactly those of the stereo WAV it was made from', async () => {
    const flac = await collect(decodeAudio(createReadStream(fixturePath('call-pcm16-8k-stereo.flac'), { highWaterMark: 5000 }), 'audio/flac'));
    const wav = await collect(decodeAudio(createReadStream(fixturePath('call-pcm16-8k-stereo.wav')), 'audio/wav'));
    assert.equal(flac.channels.length, 2);
    assert.deepEqual(flac.channels, wav.channels);
  });

  test('half an hour of FLAC (the sample call frames, over and over) decodes in bounded memory', async () => {
    const file = readFileSync(fixturePath('call-pcm16-8k-stereo.flac'));
    let framesAt = 4;
    for (let last = 0; !last; framesAt += 4 + file.readUIntBE(framesAt + 1, 3)) last = file[framesAt]! & 0x80;
    const repeats = 100;
    async function* source(): AsyncGenerator<Buffer> {
      yield file.subarray(0, framesAt);
      for (let r = 0; r < repeats; r++) yield* inChunks(file.subarray(framesAt), 65536);
    }
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let frames = 0;
    let blocks = 0;
    for await (const block of decodeAudio(source(), 'audio/flac')) {
      frames += block.channels[0]?.length ?? 0;
      if (++blocks % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(frames, repeats * flacTotalSamples(file));
    // Kept whole, the decoded floats would take about 113 MB.
    assert.ok(peak - baseline < 48 * 1024 * 1024, `RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB`);
  });

  test('WebM/Opus decodes to the same samples as the Ogg/Opus file holding the same packets', async () => {
    const webm = await collect(decodeAudio(createReadStream(fixturePath('call-16k-mono.webm'), { highWaterMark: 3000 }), 'audio/webm'));
    const ogg = await collect(decodeAudio(createReadStream(fixturePath('call-16k-mono.opus')), 'audio/ogg; codecs=opus'));
    assert.equal(webm.sampleRate, ogg.sampleRate);
    assert.equal(webm.channels[0]!.length, ogg.channels[0]!.length);
    const diff = webm.channels[0]!.reduce((m, v, i) => Math.max(m, Math.abs(v - ogg.channels[0]![i]!)), 0);
    assert.ok(diff < 1e-3, `largest difference ${diff}`);
  });

  test('plain audio/ogg, as stored before ingest named the codec, decodes Opus and Vorbis alike', async () => {
    for (const name of ['call-16k-mono.opus', 'call-16k-mono-vorbis.ogg'] as const) {
      const file = readFileSync(fixturePath(name));
      const plain = await collect(decodeAudio(inChunks(file, 10), 'audio/ogg'));
      const named = await collect(decodeAudio(inChunks(file, 4096), sniffAudio(file)!));
      assert.deepEqual(plain.channels, named.channels, name);
    }
  });
});

test('a mono MP3 behind a large ID3 tag still decodes to one channel', async () => {
  const mp3 = readFileSync(fixturePath('call-8k-mono.mp3'));
  const body = 200_000;
  const tag = Buffer.alloc(10 + body, 0x20);
  tag.write('ID3', 0, 'latin1');
  tag[3] = 4;
  tag[5] = 0;
  [21, 14, 7, 0].forEach((shift, i) => { tag[6 + i] = (body >> shift) & 0x7f; });
  const tagged = await collect(decodeAudio(inChunks(Buffer.concat([tag, mp3]), 4096), 'audio/mpeg'));
  const plain = await collect(decodeAudio(inChunks(mp3, 4096), 'audio/mpeg'));
  assert.equal(tagged.channels.length, 1);
  assert.deepEqual(tagged.channels, plain.channels);
});

describe('what cannot be decoded, or only in part', () => {
  test('types nothing decodes are refused with 422 before any byte is read', () => {
    for (const type of ['audio/webm; codecs=vorbis', 'audio/ogg; codecs=speex', 'video/mp4']) {
      assert.equal(canDecode(type), false);
      assert.throws(() => decodeAudio(inChunks(Buffer.alloc(10), 10), type), (err: unknown) => err instanceof AudioDecodeError && err.status === 422);
    }
  });

  test('bytes that are not MPEG audio fail with 422', async () => {
    const noise = Buffer.alloc(20_000, 0x5a);
    await assert.rejects(collect(decodeAudio(inChunks(noise, 4096), 'audio/mpeg')), AudioDecodeError);
  });

  test('damaged MP3 and Ogg/Opus decode what they can, at one rate and channel count; cut files decode to where they end', async () => {
    for (const [name, type] of [['call-8k-mono.mp3', 'audio/mpeg'], ['call-16k-mono.opus', 'audio/ogg; codecs=opus']] as const) {
      const file = readFileSync(fixturePath(name));
      const damaged = Buffer.from(file);
      for (let i = 2000; i < damaged.length; i += 97) damaged[i] = (damaged[i] ?? 0) ^ 0x5a;
      const out = await collect(decodeAudio(inChunks(damaged, 1000), type));
      assert.deepEqual([out.channels.length, out.sampleRate], [1, EXPECT[name].sampleRate], name);
      const whole = (await collect(decodeAudio(inChunks(file, 4096), type))).channels[0]?.length ?? 0;
      const half = (await collect(decodeAudio(inChunks(file.subarray(0, file.length >> 1), 4096), type))).channels[0]?.length ?? 0;
      assert.ok(half > whole * 0.2 && half < whole * 0.8, `${name}: ${half} of ${whole} frames`);
    }
  });

  test('an Ogg stream that is neither Opus nor Vorbis fails with 422', async () => {
    const opus = readFileSync(fixturePath('call-16k-mono.opus'));
    const speex = Buffer.from(opus);
    speex.write('Speex   ', 28, 'latin1');
    await assert.rejects(collect(decodeAudio(inChunks(speex, 4096), 'audio/ogg')), AudioDecodeError);
  });

  test('damaged or cut FLAC, Vorbis and WebM: garbage fails with 422, a cut file decodes to where it ends', async () => {
    for (const name of OTHER_CONTAINER_FILES) {
      const file = readFileSync(fixturePath(name));
      const type = sniffAudio(file)!;
      const garbage = Buffer.concat([file.subarray(0, 4), Buffer.alloc(30_000, 0x5a)]);
      await assert.rejects(collect(decodeAudio(inChunks(garbage, 4096), type)), (err: unknown) => err instanceof AudioDecodeError && err.status === 422, name);
      const whole = (await collect(decodeAudio(inChunks(file, 4096), type))).channels[0]!.length;
      const half = (await collect(decodeAudio(inChunks(file.subarray(0, file.length >> 1), 4096), type))).channels[0]!.length;
      assert.ok(half > whole * 0.2 && half < whole * 0.8, `${name}: ${half} of ${whole} frames`);
    }
  });

  test('WebM whose audio is not Opus fails with 422 naming the codec', async () => {
    const webm = Buffer.from(readFileSync(fixturePath('call-16k-mono.webm')));
    webm.write('A_VORB', webm.indexOf('A_OPUS'), 'latin1');
    await assert.rejects(collect(decodeAudio(inChunks(webm, 4096), 'audio/webm')), /its audio is A_VORB/);
  });
});

describe('WebM as MediaRecorder writes it', () => {
  const { head, packets } = oggOpusPackets(readFileSync(fixturePath('call-16k-mono.opus')));

  test('unknown-size Segment and Clusters decode to the same samples as the Ogg file', async () => {
    const clusters = [];
    for (let i = 0; i < packets.length; i += 50) clusters.push(webmCluster(i * 20, packets.slice(i, i + 50)));
    const webm = Buffer.concat([webmHead('A_OPUS', head), ...clusters]);
    assert.equal(sniffAudio(webm), 'audio/webm');
    const live = await collect(decodeAudio(inChunks(webm, 777), 'audio/webm'));
    const ogg = await collect(decodeAudio(createReadStream(fixturePath('call-16k-mono.opus')), 'audio/ogg; codecs=opus'));
    // No DiscardPadding here: the last packet's padding stays, at most one 20 ms packet more.
    const frames = live.channels[0]!.length;
    assert.ok(frames >= ogg.channels[0]!.length && frames <= ogg.channels[0]!.length + 320, `${frames} frames`);
    assert.deepEqual(live.channels[0]!.subarray(0, ogg.channels[0]!.length), ogg.channels[0]);
  });

  test('frames laced into blocks (Xiph and EBML lacing) come out as when each has its own block', async () => {
    const cluster = (lacing?: 'xiph' | 'ebml'): Buffer => Buffer.concat([webmHead('A_OPUS', head), webmCluster(0, packets.slice(0, 300), lacing)]);
    const plain = await collect(decodeAudio(inChunks(cluster(), 4096), 'audio/webm'));
    for (const lacing of ['xiph', 'ebml'] as const) {
      const laced = await collect(decodeAudio(inChunks(cluster(lacing), 4096), 'audio/webm'));
      assert.equal(laced.channels[0]!.length, 300 * 320 - Math.round(head.readUInt16LE(10) / 3), lacing);
      assert.deepEqual(laced.channels, plain.channels, lacing);
    }
  });

  test('half an hour decodes in bounded memory', async () => {
    const repeats = 100;
    async function* source(): AsyncGenerator<Buffer> {
      yield webmHead('A_OPUS', head);
      for (let r = 0; r < repeats; r++) {
        for (let i = 0; i < packets.length; i += 50) yield webmCluster(i * 20, packets.slice(i, i + 50));
      }
    }
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let frames = 0;
    let blocks = 0;
    for await (const block of decodeAudio(source(), 'audio/webm')) {
      frames += block.channels[0]?.length ?? 0;
      if (++blocks % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(frames, repeats * packets.length * 320 - Math.round(head.readUInt16LE(10) / 3));
    // Kept whole, the decoded floats would take about 113 MB.
    assert.ok(peak - baseline < 48 * 1024 * 1024, `RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB`);
  });
});
