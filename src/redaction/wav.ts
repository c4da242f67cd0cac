import { UnprocessableContentError } from '../errors.js';

/**
 * Just enough of RIFF/WAVE to rewrite samples in place: where the sample data starts, how long it
 * is and how a sample is encoded. Every encoding WAV carries as plain samples is covered: integer
 * PCM of 8 to 32 bits, IEEE float, G.711 µ-law and A-law (also behind WAVE_FORMAT_EXTENSIBLE).
 */
export type SampleEncoding = 'pcm' | 'float' | 'mulaw' | 'alaw';

export interface WavLayout {
  readonly encoding: SampleEncoding;
  readonly channels: number;
  readonly sampleRate: number;
  readonly bytesPerSample: number;
  /** Bytes of one frame: one sample of every channel. */
  readonly blockAlign: number;
  /** Offset of the first sample byte in the file. */
  readonly dataOffset: number;
  /** Whole frames in the data chunk (a length past the end of the file is read as "to the end"). */
  readonly frames: number;
}

/** The head a probe may need: fmt and any chunks before data (LIST, bext, fact...) fit in it. */
export const WAV_PROBE_BYTES = 256 * 1024;

const FORMAT_TAGS: Readonly<Record<number, SampleEncoding>> = { 1: 'pcm', 3: 'float', 6: 'alaw', 7: 'mulaw' };
const EXTENSIBLE = 0xfffe;

function unreadable(message: string): UnprocessableContentError {
  return new UnprocessableContentError(`The stored WAV cannot be redacted in place: ${message}`, 'redaction_unreadable_audio');
}

interface FmtChunk { encoding: SampleEncoding; channels: number; sampleRate: number; blockAlign: number; bits: number }

function parseFmt(body: Buffer): FmtChunk {
  if (body.length < 16) throw unreadable('its fmt chunk is truncated');
  let tag = body.readUInt16LE(0);
  if (tag === EXTENSIBLE && body.length >= 26) tag = body.readUInt16LE(24);
  const encoding = FORMAT_TAGS[tag];
  if (!encoding) throw unreadable(`format tag ${tag} is not a plain sample encoding`);
  return { encoding, channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), blockAlign: body.readUInt16LE(12), bits: body.readUInt16LE(14) };
}

function checkFmt(f: FmtChunk): number {
  const bytesPerSample = f.channels > 0 ? f.blockAlign / f.channels : 0;
  const valid = f.channels >= 1 && f.channels <= 32 && f.sampleRate >= 1000 && f.sampleRate <= 384_000 && Number.isInteger(bytesPerSample)
    && (f.encoding === 'pcm' ? bytesPerSample >= 1 && bytesPerSample <= 4 : f.encoding === 'float' ? bytesPerSample === 4 || bytesPerSample === 8 : bytesPerSample === 1);
  if (!valid) throw unreadable(`${f.encoding} with ${f.channels} channel(s), block ${f.blockAlign} bytes and ${f.bits} bits is not a layout the vault rewrites`);
  return bytesPerSample;
}

/** Reads the layout from the first bytes of a WAV whose whole size is `fileSize`. */
export function probeWavLayout(head: Buffer, fileSize: number): WavLayout {
  const magic = head.subarray(0, 4).toString('latin1');
  if (!['RIFF', 'RF64', 'BW64'].includes(magic) || head.subarray(8, 12).toString('latin1') !== 'WAVE') throw unreadable('it is not RIFF/WAVE');
  let fmt: FmtChunk | null = null;
  let ds64DataSize: number | null = null;
  let at = 12;
  while (at + 8 <= head.length) {
    const id = head.subarray(at, at + 4).toString('latin1');
    const size = head.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'data') {
      if (!fmt) throw unreadable('its data chunk comes before its fmt chunk');
      const bytesPerSample = checkFmt(fmt);
      const declared = size === 0xffffffff && ds64DataSize !== null ? ds64DataSize : size;
      const available = Math.max(0, Math.min(declared, fileSize - body));
      return { ...fmt, bytesPerSample, dataOffset: body, frames: Math.floor(available / fmt.blockAlign) };
    }
    if (body + size > head.length) throw unreadable(`its ${JSON.stringify(id)} chunk runs past the first ${WAV_PROBE_BYTES} bytes`);
    if (id === 'fmt ') fmt = parseFmt(head.subarray(body, body + size));
    if (id === 'ds64' && size >= 16) ds64DataSize = Number(head.readBigUInt64LE(body + 8));
    at = body + size + (size % 2);
  }
  throw unreadable('no data chunk was found');
}

/** A 44-byte header of a PCM16 WAV holding `frames` frames. */
export function pcm16WavHeader(sampleRate: number, channels: number, frames: number): Buffer {
  const dataBytes = frames * channels * 2;
  if (dataBytes + 36 > 0xffffffff) throw unreadable('the decoded recording is too long for a WAV file');
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(dataBytes + 36, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}
