export { canDecode, decodeAudio } from './decode.js';
export { AudioDecodeError } from './errors.js';
export { BYTES_PER_SAMPLE, encodeSample, readSample, writeSample } from './samples.js';
export type { PcmBlock, WavCodec, WavInfo } from './types.js';
export { MAX_WAV_HEAD, pcm16WavHeader, probeWav } from './wav.js';
export { BASE_BUCKET_MS, MAX_COLUMNS, PeakAccumulator, computePeaks, type Peaks } from './peaks.js';
