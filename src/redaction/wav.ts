import { AudioDecodeError, MAX_WAV_HEAD, pcm16WavHeader, probeWav, type WavInfo } from '../audio/index.js';

/**
 * Where a stored WAV's samples are and how many whole frames it holds, from its head (read
 * with src/audio's probeWav) and its size; and the header of the PCM16 WAV a decoded recording
 * becomes.
 */
export interface WavLayout extends WavInfo {
  /** Whole frames in the data chunk; a length the header does not know, or past the file's end, means "to the end". */
  readonly frames: number;
}

/** The most of a WAV's head read to find its samples. */
export const WAV_PROBE_BYTES = MAX_WAV_HEAD;

export function wavLayout(head: Buffer, fileSize: number): WavLayout {
  const info = probeWav(head);
  if (!info) throw new AudioDecodeError('The WAV has no data chunk in its first megabyte');
  const available = Math.max(0, Math.min(info.dataBytes ?? Infinity, fileSize - info.dataOffset));
  return { ...info, frames: Math.floor(available / info.blockAlign) };
}

/** A 44-byte header of a PCM16 WAV holding `frames` frames. */
export function pcm16WavHeaderForFrames(sampleRate: number, channels: number, frames: number): Buffer {
  const dataBytes = frames * channels * 2;
  if (dataBytes + 36 > 0xffffffff) throw new AudioDecodeError('The decoded recording is too long to be stored as one WAV file');
  return pcm16WavHeader(sampleRate, channels, dataBytes);
}
