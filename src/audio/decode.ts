import { AudioDecodeError } from './errors.js';
import { decodeOgg, decodeOggOpus, decodeOggVorbis, lazyDecoder, type Decoder } from './ogg.js';
import type { PcmBlock } from './types.js';
import { decodeWav } from './wav.js';

// The WASM decoders load on first use: a vault that never decodes such a recording never pays
// for their code and memory (about 12 MB of the serving process's idle RSS).
const decodeMpeg = lazyDecoder(async () => (await import('./mpeg.js')).decodeMpeg);
const decodeFlac = lazyDecoder(async () => (await import('./flac.js')).decodeFlac);
const decodeWebm = lazyDecoder(async () => (await import('./webm.js')).decodeWebm);

/**
 * The decoder for a stored recording's media type: the type ingest proved from the bytes
 * (src/ingest/sniff.ts), so a declared type is never trusted here either. Plain audio/ogg, as
 * stored before ingest named the codec, is told apart by its first page.
 */
function decoderFor(mediaType: string): Decoder | null {
  const [essence = '', ...params] = mediaType.toLowerCase().split(';').map((p) => p.trim());
  const codecs = params.find((p) => p.startsWith('codecs='))?.slice('codecs='.length).replace(/"/g, '');
  switch (essence) {
    case 'audio/wav': case 'audio/wave': case 'audio/x-wav': case 'audio/vnd.wave': return decodeWav;
    case 'audio/mpeg': case 'audio/mp3': return decodeMpeg;
    case 'audio/opus': return decodeOggOpus;
    case 'audio/ogg': return codecs === undefined ? decodeOgg : codecs === 'opus' ? decodeOggOpus : codecs === 'vorbis' ? decodeOggVorbis : null;
    case 'audio/flac': case 'audio/x-flac': return decodeFlac;
    case 'audio/webm': return codecs === undefined || codecs === 'opus' ? decodeWebm : null;
    default: return null;
  }
}

/** What decodeAudio reads, for the messages that refuse everything else. */
export const DECODABLE_FORMATS = 'WAV, MP3, FLAC, Ogg with Opus or Vorbis, and WebM with Opus';

/** Whether decodeAudio reads recordings of this media type. */
export function canDecode(mediaType: string): boolean {
  return decoderFor(mediaType) !== null;
}

/**
 * Decodes a recording as a stream of PCM blocks with bounded memory: WAV (PCM, float, G.711
 * mu-law and A-law) parsed directly; MP3 (mpg123), Ogg/Opus and WebM/Opus (libopus), Ogg/Vorbis
 * (libvorbis) and FLAC (libFLAC), all compiled to WASM.
 * Blocks follow each other without gaps (startFrame counts on) and keep one channel count and
 * rate. Undecodable input fails the iteration with AudioDecodeError (422).
 */
export function decodeAudio(source: AsyncIterable<Buffer>, mediaType: string): AsyncIterable<PcmBlock> {
  const decoder = decoderFor(mediaType);
  if (!decoder) throw new AudioDecodeError(`Recordings of type ${mediaType} cannot be decoded; ${DECODABLE_FORMATS} can`);
  return decoder(source);
}
