/**
 * Decoded audio as it flows through the vault: blocks of float samples, one array per channel,
 * never the whole recording. Consumers (peaks, DTMF detection, redaction) see the same shape
 * whatever container and codec the PBX sent.
 */
export interface PcmBlock {
  readonly sampleRate: number;
  /** One array per channel, all of equal length, samples in -1..1. */
  readonly channels: Float32Array[];
  /** Frame index (sample index per channel) of channels[*][0] from the start of the recording. */
  readonly startFrame: number;
}

/** Sample encodings of a WAV data chunk the vault reads and rewrites in place. */
export type WavCodec = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'mulaw' | 'alaw';

/** What probeWav learns from a WAV head: enough to decode it or to rewrite samples in place. */
export interface WavInfo {
  readonly codec: WavCodec;
  readonly channels: number;
  readonly sampleRate: number;
  /** Bytes of one frame (one sample of every channel). */
  readonly blockAlign: number;
  /** Bytes of one sample of one channel. */
  readonly bytesPerSample: number;
  /** Byte offset of the first sample in the file. */
  readonly dataOffset: number;
  /**
   * Length of the data chunk in bytes, or null when the header does not know it (a PBX that
   * streamed the file wrote 0 or 0xFFFFFFFF): the samples then run to the end of the file.
   */
  readonly dataBytes: number | null;
}
