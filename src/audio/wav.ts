import { AudioDecodeError } from './errors.js';
import { BYTES_PER_SAMPLE, readSample } from './samples.js';
import type { PcmBlock, WavCodec, WavInfo } from './types.js';

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;
const MAX_CHANNELS = 64;
const MAX_SAMPLE_RATE = 768_000;

interface Fmt { readonly codec: WavCodec; readonly channels: number; readonly sampleRate: number }

function codecOf(format: number, bits: number): WavCodec | null {
  if (format === FORMAT_PCM) {
    return bits === 8 ? 'pcm8' : bits === 16 ? 'pcm16' : bits === 24 ? 'pcm24' : bits === 32 ? 'pcm32' : null;
  }
  if (format === FORMAT_FLOAT && bits === 32) return 'float32';
  if (format === FORMAT_ALAW && bits === 8) return 'alaw';
  if (format === FORMAT_MULAW && bits === 8) return 'mulaw';
  return null;
}

function parseFmt(body: Buffer): Fmt {
  if (body.length < 16) throw new AudioDecodeError('The WAV fmt chunk is too short');
  let format = body.readUInt16LE(0);
  const channels = body.readUInt16LE(2);
  const sampleRate = body.readUInt32LE(4);
  const bits = body.readUInt16LE(14);
  // WAVE_FORMAT_EXTENSIBLE names the real format in the first two bytes of its sub-format GUID.
  if (format === FORMAT_EXTENSIBLE && body.length >= 26) format = body.readUInt16LE(24);
  const codec = codecOf(format, bits);
  if (!codec) throw new AudioDecodeError(`WAV format ${format} with ${bits}-bit samples is not decoded; PCM, IEEE float, mu-law and A-law are`);
  if (channels < 1 || channels > MAX_CHANNELS) throw new AudioDecodeError(`A WAV with ${channels} channels is not decoded`);
  if (sampleRate < 1 || sampleRate > MAX_SAMPLE_RATE) throw new AudioDecodeError(`A WAV sampled at ${sampleRate} Hz is not decoded`);
  return { codec, channels, sampleRate };
}

/**
 * Reads a WAV (RIFF, RF64 or BW64) head far enough to find its samples: codec, channels, rate and
 * where the data chunk starts. Returns null while `head` is too short to reach the data chunk (the
 * caller reads more and asks again); throws AudioDecodeError for what is not a decodable WAV.
 * The frame size is computed from the codec, not taken from the header's blockAlign, which some
 * PBXs write wrongly.
 */
export function probeWav(head: Buffer): WavInfo | null {
  if (head.length < 12) return null;
  const riff = head.toString('latin1', 0, 4);
  if (!['RIFF', 'RF64', 'BW64'].includes(riff) || head.toString('latin1', 8, 12) !== 'WAVE') {
    throw new AudioDecodeError('The recording is not a RIFF/WAVE file');
  }
  let fmt: Fmt | null = null;
  let ds64DataBytes: number | null = null;
  let offset = 12;
  while (offset + 8 <= head.length) {
    const id = head.toString('latin1', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    if (id === 'data') {
      if (!fmt) throw new AudioDecodeError('The WAV data chunk comes before its fmt chunk');
      const bytesPerSample = BYTES_PER_SAMPLE[fmt.codec];
      const known = size === 0xffffffff ? ds64DataBytes : size === 0 ? null : size;
      return { ...fmt, bytesPerSample, blockAlign: bytesPerSample * fmt.channels, dataOffset: offset + 8, dataBytes: known };
    }
    const end = offset + 8 + size + (size & 1);
    if (end > head.length) return null;
    const body = head.subarray(offset + 8, offset + 8 + size);
    if (id === 'fmt ') fmt = parseFmt(body);
    // ds64 (RF64/BW64): riffSize (8 bytes), then the 64-bit size of the data chunk.
    if (id === 'ds64' && size >= 16) ds64DataBytes = Number(body.readBigUInt64LE(8));
    offset = end;
  }
  return null;
}

/** A WAV head larger than this (metadata chunks before the samples) is refused, not buffered on. */
export const MAX_WAV_HEAD = 1024 * 1024;

function toBlock(info: WavInfo, bytes: Buffer, startFrame: number): PcmBlock {
  const frames = bytes.length / info.blockAlign;
  const channels = Array.from({ length: info.channels }, () => new Float32Array(frames));
  for (let c = 0; c < info.channels; c++) {
    const out = channels[c];
    for (let i = 0, at = c * info.bytesPerSample; i < frames; i++, at += info.blockAlign) out[i] = readSample(info.codec, bytes, at);
  }
  return { sampleRate: info.sampleRate, channels, startFrame };
}

/**
 * What a WAV byte stream holds, in order: the head up to the samples (with what it says), whole
 * frames of the data chunk as they arrive, the data chunk's end (with a partial last frame, not a
 * sample), and the bytes after it (trailing metadata chunks). `end` comes exactly once, also
 * when the stream stops short of the declared size.
 */
export type WavPiece =
  | { readonly kind: 'head'; readonly info: WavInfo; readonly bytes: Buffer }
  | { readonly kind: 'frames'; readonly bytes: Buffer }
  | { readonly kind: 'end'; readonly partial: Buffer }
  | { readonly kind: 'after'; readonly bytes: Buffer };

/**
 * Splits a WAV as it arrives: only the head (up to MAX_WAV_HEAD) and a partial frame carried to
 * the next chunk are kept.
 */
export async function* wavPieces(source: AsyncIterable<Buffer>): AsyncGenerator<WavPiece> {
  let head = Buffer.alloc(0);
  let info: WavInfo | null = null;
  let left = Infinity;
  let carry = Buffer.alloc(0);
  let ended = false;
  for await (const chunk of source) {
    let bytes: Buffer = chunk;
    if (!info) {
      head = Buffer.concat([head, chunk]);
      info = probeWav(head);
      if (!info) {
        if (head.length > MAX_WAV_HEAD) throw new AudioDecodeError('The WAV has no data chunk in its first megabyte');
        continue;
      }
      yield { kind: 'head', info, bytes: head.subarray(0, info.dataOffset) };
      bytes = head.subarray(info.dataOffset);
      head = Buffer.alloc(0);
      left = info.dataBytes ?? Infinity;
    }
    if (!ended) {
      const data = bytes.length > left ? bytes.subarray(0, left) : bytes;
      bytes = bytes.subarray(data.length);
      left -= data.length;
      const all = carry.length > 0 ? Buffer.concat([carry, data]) : data;
      const whole = all.length - (all.length % info.blockAlign);
      carry = Buffer.from(all.subarray(whole));
      if (whole > 0) yield { kind: 'frames', bytes: all.subarray(0, whole) };
      if (left === 0) { ended = true; yield { kind: 'end', partial: carry }; }
    }
    if (ended && bytes.length > 0) yield { kind: 'after', bytes };
  }
  if (!info) throw new AudioDecodeError('The WAV ended before its data chunk');
  if (!ended) yield { kind: 'end', partial: carry };
}

/**
 * Decodes a WAV as it arrives: each chunk becomes one block of whole frames, and nothing else is
 * kept. Samples past the data chunk's declared end (trailing metadata chunks) are not read.
 */
export async function* decodeWav(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  let info: WavInfo | null = null;
  let frame = 0;
  for await (const piece of wavPieces(source)) {
    if (piece.kind === 'head') info = piece.info;
    else if (piece.kind === 'end') return;
    else if (piece.kind === 'frames' && info) {
      yield toBlock(info, piece.bytes, frame);
      frame += piece.bytes.length / info.blockAlign;
    }
  }
}

/**
 * The 44-byte header of a PCM16 WAV holding `dataBytes` of samples, or, for null, of a WAV
 * streamed before its length is known (both sizes 0xFFFFFFFF, which readers take as "to the end").
 */
export function pcm16WavHeader(sampleRate: number, channels: number, dataBytes: number | null): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(dataBytes === null ? 0xffffffff : dataBytes + 36, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes ?? 0xffffffff, 40);
  return h;
}
