/**
 * Generated WAV recordings in every sample codec the vault decodes, and helpers to feed bytes to
 * a decoder and gather what it yields.
 */
import { BYTES_PER_SAMPLE, writeSample, type PcmBlock, type WavCodec } from '../../src/audio/index.js';

const FORMAT_TAG: Readonly<Record<WavCodec, number>> = { pcm8: 1, pcm16: 1, pcm24: 1, pcm32: 1, float32: 3, mulaw: 7, alaw: 6 };

export interface WavHeadOptions {
  readonly codec: WavCodec;
  readonly channels: number;
  readonly sampleRate: number;
  /** Size written in the data chunk header; null writes 0xFFFFFFFF, as a PBX streaming the file does. */
  readonly dataBytes: number | null;
  /** Whole chunks (id, size, body) placed between fmt and data, such as LIST or fact. */
  readonly extraChunks?: Buffer;
}

export function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, Buffer.alloc(body.length & 1)]);
}

export function wavHead(o: WavHeadOptions): Buffer {
  const bytesPerSample = BYTES_PER_SAMPLE[o.codec];
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(FORMAT_TAG[o.codec], 0);
  fmt.writeUInt16LE(o.channels, 2);
  fmt.writeUInt32LE(o.sampleRate, 4);
  fmt.writeUInt32LE(o.sampleRate * o.channels * bytesPerSample, 8);
  fmt.writeUInt16LE(o.channels * bytesPerSample, 12);
  fmt.writeUInt16LE(bytesPerSample * 8, 14);
  const dataHead = Buffer.alloc(8);
  dataHead.write('data', 0, 'latin1');
  dataHead.writeUInt32LE(o.dataBytes ?? 0xffffffff, 4);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), chunk('fmt ', fmt), o.extraChunks ?? Buffer.alloc(0), dataHead]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(o.dataBytes === null ? 0xffffffff : Math.min(0xffffffff, body.length + o.dataBytes), 4);
  return Buffer.concat([riff, body]);
}

/** The data-chunk bytes of interleaved frames of `channels` (equal lengths) in `codec`. */
export function encodeFrames(codec: WavCodec, channels: readonly Float32Array[]): Buffer {
  const size = BYTES_PER_SAMPLE[codec];
  const frames = channels[0]?.length ?? 0;
  const out = Buffer.alloc(frames * channels.length * size);
  for (let i = 0; i < frames; i++) {
    channels.forEach((samples, c) => writeSample(codec, samples[i] ?? 0, out, (i * channels.length + c) * size));
  }
  return out;
}

export function encodeWav(codec: WavCodec, sampleRate: number, channels: readonly Float32Array[], extraChunks?: Buffer): Buffer {
  const data = encodeFrames(codec, channels);
  return Buffer.concat([wavHead({ codec, channels: channels.length, sampleRate, dataBytes: data.length, extraChunks }), data]);
}

/** A test signal: a sine at `hz`, amplitude `amp`, `frames` long. */
export function sine(hz: number, sampleRate: number, frames: number, amp = 0.5): Float32Array {
  const out = new Float32Array(frames);
  for (let i = 0; i < frames; i++) out[i] = amp * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  return out;
}

/** `bytes` as a stream of chunks of `size` bytes, as the network would hand them over. */
export async function* inChunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export interface Decoded { readonly sampleRate: number; readonly channels: Float32Array[]; readonly blocks: number }

/** Everything a decoder yields, joined per channel; checks that blocks follow each other without gaps. */
export async function collect(blocks: AsyncIterable<PcmBlock>): Promise<Decoded> {
  const parts: Float32Array[][] = [];
  let sampleRate = 0;
  let frames = 0;
  for await (const block of blocks) {
    if (block.startFrame !== frames) throw new Error(`block starts at ${block.startFrame}, expected ${frames}`);
    if (block.channels.some((c) => c.length !== block.channels[0]?.length)) throw new Error('channels of unequal length');
    if (sampleRate !== 0 && block.sampleRate !== sampleRate) throw new Error(`rate changed from ${sampleRate} to ${block.sampleRate}`);
    if (parts.length > 0 && block.channels.length !== parts[0]?.length) throw new Error('channel count changed');
    sampleRate = block.sampleRate;
    frames += block.channels[0]?.length ?? 0;
    parts.push(block.channels);
  }
  const count = parts[0]?.length ?? 0;
  const channels = Array.from({ length: count }, (_, c) => {
    const out = new Float32Array(frames);
    let at = 0;
    for (const p of parts) { const src = p[c] ?? new Float32Array(0); out.set(src, at); at += src.length; }
    return out;
  });
  return { sampleRate, channels, blocks: parts.length };
}
