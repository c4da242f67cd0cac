import type { WavCodec } from './types.js';

/**
 * Sample codecs of WAV data chunks: float -1..1 to and from the bytes of one sample. G.711
 * follows the ITU-T reference (Sun's g711.c): mu-law and A-law expand to 14 and 13 significant
 * bits of a 16-bit value, so decode(encode(decode(b))) is exact for every code byte.
 */

export const BYTES_PER_SAMPLE: Readonly<Record<WavCodec, number>> = {
  pcm8: 1, pcm16: 2, pcm24: 3, pcm32: 4, float32: 4, mulaw: 1, alaw: 1,
};

function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** Index of the first segment end not below value, or 8 when it exceeds them all. */
function segment(value: number, ends: readonly number[]): number {
  let seg = 0;
  while (seg < ends.length && value > (ends[seg])) seg++;
  return seg;
}

const ULAW_ENDS = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;
const ALAW_ENDS = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;

function linearToUlaw(pcm16: number): number {
  let v = pcm16 >> 2;
  let mask = 0xff;
  if (v < 0) { v = -v; mask = 0x7f; }
  v = Math.min(v, 8159) + (0x84 >> 2);
  const seg = segment(v, ULAW_ENDS);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

function linearToAlaw(pcm16: number): number {
  let v = pcm16 >> 3;
  let mask = 0xd5;
  if (v < 0) { v = -v - 1; mask = 0x55; }
  const seg = segment(v, ALAW_ENDS);
  if (seg >= 8) return 0x7f ^ mask;
  const quant = seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
  return ((seg << 4) | quant) ^ mask;
}

function table(expand: (code: number) => number): Float32Array {
  const out = new Float32Array(256);
  for (let code = 0; code < 256; code++) out[code] = expand(code) / 32768;
  return out;
}

/** Code byte -> float, precomputed: decoding G.711 is a table lookup per sample. */
export const ULAW_TABLE = table(ulawToLinear);
export const ALAW_TABLE = table(alawToLinear);

function toInt(value: number, bits: number): number {
  const scale = 2 ** (bits - 1);
  const clamped = Math.max(-1, Math.min(1, Number.isNaN(value) ? 0 : value));
  return Math.max(-scale, Math.min(scale - 1, Math.round(clamped * scale)));
}

/** Writes one sample (float -1..1, clamped) in the codec's bytes at offset, little-endian. */
export function writeSample(codec: WavCodec, value: number, target: Buffer, offset: number): void {
  switch (codec) {
    case 'pcm8': target[offset] = toInt(value, 8) + 128; return;
    case 'pcm16': target.writeInt16LE(toInt(value, 16), offset); return;
    case 'pcm24': target.writeIntLE(toInt(value, 24), offset, 3); return;
    case 'pcm32': target.writeInt32LE(toInt(value, 32), offset); return;
    case 'float32': target.writeFloatLE(Math.max(-1, Math.min(1, value)), offset); return;
    case 'mulaw': target[offset] = linearToUlaw(toInt(value, 16)); return;
    case 'alaw': target[offset] = linearToAlaw(toInt(value, 16)); return;
  }
}

/** The bytes of one sample (float -1..1, clamped) in the codec: e.g. the silence a redaction writes. */
export function encodeSample(codec: WavCodec, value: number): Buffer {
  const out = Buffer.alloc(BYTES_PER_SAMPLE[codec]);
  writeSample(codec, value, out, 0);
  return out;
}

/** Float WAVs may carry values past full scale, infinities or NaN; consumers get -1..1. */
function clampFloat(v: number): number {
  if (Number.isNaN(v)) return 0;
  return v > 1 ? 1 : v < -1 ? -1 : v;
}

/** Reads one sample at offset as a float -1..1. */
export function readSample(codec: WavCodec, source: Buffer, offset: number): number {
  switch (codec) {
    case 'pcm8': return ((source[offset]) - 128) / 128;
    case 'pcm16': return source.readInt16LE(offset) / 32768;
    case 'pcm24': return source.readIntLE(offset, 3) / 8388608;
    case 'pcm32': return source.readInt32LE(offset) / 2147483648;
    case 'float32': return clampFloat(source.readFloatLE(offset));
    case 'mulaw': return ULAW_TABLE[source[offset]];
    case 'alaw': return ALAW_TABLE[source[offset]];
  }
}

/**
 * Decodes `count` samples of one channel into `into` from index `at`: the first at byte `offset`
 * of `source`, the next `stride` bytes on (a frame). G.711 and PCM16 have loops of their own,
 * without a call per sample.
 */
export function decodeSamples(codec: WavCodec, source: Buffer, offset: number, stride: number, into: Float32Array, at: number, count: number): void {
  if (codec === 'mulaw' || codec === 'alaw') {
    const table = codec === 'mulaw' ? ULAW_TABLE : ALAW_TABLE;
    for (let i = at, o = offset; i < at + count; i++, o += stride) into[i] = table[source[o]];
  } else if (codec === 'pcm16') {
    for (let i = at, o = offset; i < at + count; i++, o += stride) into[i] = (((source[o + 1] << 24) | (source[o] << 16)) >> 16) / 32768;
  } else {
    for (let i = at, o = offset; i < at + count; i++, o += stride) into[i] = readSample(codec, source, o);
  }
}
