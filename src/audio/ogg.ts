import { AudioDecodeError } from './errors.js';
import { prepend } from './prepend.js';
import type { PcmBlock } from './types.js';

export type Decoder = (source: AsyncIterable<Buffer>) => AsyncGenerator<PcmBlock>;

/** A decoder whose module is imported when it first decodes, not when the vault starts. */
export function lazyDecoder(load: () => Promise<Decoder>): Decoder {
  return async function* decode(source) {
    yield* (await load())(source);
  };
}

export const decodeOggOpus = lazyDecoder(async () => (await import('./opus.js')).decodeOggOpus);
export const decodeOggVorbis = lazyDecoder(async () => (await import('./vorbis.js')).decodeOggVorbis);

/** The codecs an Ogg stream may hold for the vault, named as in a media type's codecs parameter. */
export type OggCodec = 'opus' | 'vorbis';

const OGG_PAGE_HEADER = 27;
/** Enough for the first page's header, its lacing table and the codec's magic bytes. */
export const OGG_CODEC_PROBE_BYTES = OGG_PAGE_HEADER + 255 + 8;

const MAGIC: ReadonlyArray<[string, string]> = [
  ['OpusHead', 'opus'], ['\x01vorbis', 'vorbis'], ['\x7fFLAC', 'flac'], ['Speex   ', 'speex'], ['\x80theora', 'theora'],
];

/**
 * The codec of an Ogg stream from its first page, whose first packet is the codec's identification
 * header: 'opus', 'vorbis', another codec's name, 'unknown', or null while more bytes are needed.
 */
export function oggCodec(head: Buffer): string | null {
  if (head.length < OGG_PAGE_HEADER) return null;
  const packetAt = OGG_PAGE_HEADER + (head[26] ?? 0);
  if (head.length < packetAt + 8) return null;
  const magic = head.toString('latin1', packetAt, packetAt + 8);
  return MAGIC.find(([prefix]) => magic.startsWith(prefix))?.[1] ?? 'unknown';
}

/**
 * Decodes an Ogg stream whose stored type does not name the codec (recordings ingested before
 * the codec was recorded): the first page says whether it is Opus or Vorbis.
 */
export async function* decodeOgg(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  const input = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let codec: string | null = null;
  while (codec === null) {
    const next = await input.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
    codec = oggCodec(head);
  }
  const rest = prepend(head, input);
  if (codec === 'opus') yield* decodeOggOpus(rest);
  else if (codec === 'vorbis') yield* decodeOggVorbis(rest);
  else throw new AudioDecodeError(`The Ogg stream holds ${codec ?? 'no codec header'}; Opus and Vorbis can be decoded`);
}
