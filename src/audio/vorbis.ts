import { OggVorbisDecoder } from '@wasm-audio-decoders/ogg-vorbis';
import { decodeInSlices } from './compressed.js';
import { AudioDecodeError } from './errors.js';
import type { PcmBlock } from './types.js';

/**
 * Decodes Ogg/Vorbis with libvorbis compiled to WASM, 8 KiB at a time; the decoder trims the
 * last page to its granule position, so the output is as long as the encoder's input was.
 */
export function decodeOggVorbis(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  return decodeInSlices(source, new OggVorbisDecoder(), (reason) => new AudioDecodeError(`The Ogg stream could not be decoded as Vorbis: ${reason}`));
}
