import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { decodeInSlices } from './compressed.js';
import { AudioDecodeError } from './errors.js';
import type { PcmBlock } from './types.js';

/**
 * Decodes native FLAC with libFLAC compiled to WASM, 8 KiB at a time. libFLAC holds back the
 * frame it is in until the next frame's sync arrives, so memory stays at about one frame.
 */
export function decodeFlac(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  return decodeInSlices(source, new FLACDecoder(), (reason) => new AudioDecodeError(`The FLAC stream could not be decoded: ${reason}`));
}
