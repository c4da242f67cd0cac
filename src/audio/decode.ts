import { AudioDecodeError } from './errors.js';
import { decodeMpeg } from './mpeg.js';
import { decodeOggOpus } from './opus.js';
import type { PcmBlock } from './types.js';
import { decodeWav } from './wav.js';

type Decoder = (source: AsyncIterable<Buffer>) => AsyncGenerator<PcmBlock>;

/**
 * The decoder for a stored recording's media type: the type ingest proved from the bytes
 * (src/ingest/sniff.ts), so a declared type is never trusted here either. Plain audio/ogg is tried
 * as Opus; the Ogg parser refuses any other codec with a clear error.
 */
function decoderFor(mediaType: string): Decoder | null {
  const [essence = '', ...params] = mediaType.toLowerCase().split(';').map((p) => p.trim());
  const codecs = params.find((p) => p.startsWith('codecs='))?.slice('codecs='.length).replace(/"/g, '');
  switch (essence) {
    case 'audio/wav': case 'audio/wave': case 'audio/x-wav': case 'audio/vnd.wave': return decodeWav;
    case 'audio/mpeg': case 'audio/mp3': return decodeMpeg;
    case 'audio/opus': return decodeOggOpus;
    case 'audio/ogg': return codecs === undefined || codecs === 'opus' ? decodeOggOpus : null;
    default: return null;
  }
}

/** Whether decodeAudio reads recordings of this media type. */
export function canDecode(mediaType: string): boolean {
  return decoderFor(mediaType) !== null;
}

/**
 * Decodes a recording as a stream of PCM blocks with bounded memory: WAV (PCM, float, G.711
 * mu-law and A-law) parsed directly, MP3 through mpg123 and Ogg/Opus through libopus, both WASM.
 * Blocks follow each other without gaps (startFrame counts on) and keep one channel count and
 * rate. Undecodable input fails the iteration with AudioDecodeError (422).
 */
export function decodeAudio(source: AsyncIterable<Buffer>, mediaType: string): AsyncIterable<PcmBlock> {
  const decoder = decoderFor(mediaType);
  if (!decoder) throw new AudioDecodeError(`Recordings of type ${mediaType} cannot be decoded; WAV, MP3 and Ogg/Opus can`);
  return decoder(source);
}
