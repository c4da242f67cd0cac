import { FLACDecoder, type FLACDecodedAudio } from '@wasm-audio-decoders/flac';
import { decodeInSlices, type ChunkDecoder } from './compressed.js';
import { AudioDecodeError } from './errors.js';
import type { PcmBlock } from './types.js';

/**
 * The WASM build scales an n-bit sample by 2^(n-1) - 1; the vault's WAV reader (and every PCM
 * reader it matches) by 2^(n-1). The integer is recovered by rounding, so a FLAC decodes to exactly
 * the floats of the WAV it was made from: lossless stays lossless.
 */
function rescale(out: FLACDecodedAudio): FLACDecodedAudio {
  if (out.bitDepth < 2 || out.bitDepth > 24) return out;
  const full = 2 ** (out.bitDepth - 1);
  for (const channel of out.channelData) {
    for (let i = 0; i < out.samplesDecoded; i++) channel[i] = Math.round((channel[i] ?? 0) * (full - 1)) / full;
  }
  return out;
}

class ScaledFlacDecoder implements ChunkDecoder {
  private readonly inner = new FLACDecoder();
  get ready(): Promise<void> { return this.inner.ready; }
  async decode(bytes: Uint8Array): Promise<FLACDecodedAudio> { return rescale(await this.inner.decode(bytes)); }
  async flush(): Promise<FLACDecodedAudio> { return rescale(await this.inner.flush()); }
  free(): void { this.inner.free(); }
}

/**
 * Decodes native FLAC with libFLAC compiled to WASM, 8 KiB at a time. libFLAC holds back the
 * frame it is in until the next frame's sync arrives, so memory stays at about one frame.
 */
export function decodeFlac(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  return decodeInSlices(source, new ScaledFlacDecoder(), (reason) => new AudioDecodeError(`The FLAC stream could not be decoded: ${reason}`));
}
