import { OggOpusDecoder } from 'ogg-opus-decoder';
import { AudioDecodeError } from './errors.js';
import { BlockCounter, slices } from './compressed.js';
import type { PcmBlock } from './types.js';

/** Rates libopus decodes to natively. */
const OPUS_RATES = new Set([8000, 12000, 16000, 24000, 48000]);
/** The first Ogg page of an Opus stream: 27-byte page header, 1 lacing byte, then OpusHead. */
const OPUS_HEAD_AT = 28;
const INPUT_RATE_AT = OPUS_HEAD_AT + 12;

/**
 * Opus always codes at 48 kHz internally, but OpusHead records the rate the PBX captured at; a
 * narrowband call decodes at that rate (6x fewer samples for every consumer) when libopus can.
 */
function decodeRate(head: Buffer): number {
  if (head.toString('latin1', OPUS_HEAD_AT, OPUS_HEAD_AT + 8) !== 'OpusHead') return 48000;
  return opusOutputRate(head.readUInt32LE(INPUT_RATE_AT));
}

/** The rate to decode an Opus stream at, from the input rate its OpusHead records. */
export function opusOutputRate(inputRate: number): number {
  return OPUS_RATES.has(inputRate) ? inputRate : 48000;
}

function failure(err: unknown): AudioDecodeError {
  return new AudioDecodeError(`The Ogg stream could not be decoded as Opus: ${err instanceof Error ? err.message : String(err)}`);
}

/** Decodes Ogg/Opus with libopus compiled to WASM, page by page as the bytes arrive. */
export async function* decodeOggOpus(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  let decoder: OggOpusDecoder | null = null;
  let head = Buffer.alloc(0);
  const counter = new BlockCounter((from, to) => new AudioDecodeError(`The Ogg/Opus stream changes from ${from} to ${to} channels`));
  const decode = async (input: Buffer | null, active: OggOpusDecoder): Promise<PcmBlock | null> => {
    try {
      // decode() and flush() return promises although the published types say otherwise.
      const out = await (input ? active.decode(input) : active.flush());
      return counter.next(out.channelData, out.samplesDecoded, out.sampleRate);
    } catch (err) {
      if (err instanceof AudioDecodeError) throw err;
      throw failure(err);
    }
  };
  try {
    for await (const chunk of source) {
      let bytes = chunk;
      if (!decoder) {
        head = Buffer.concat([head, chunk]);
        if (head.length < INPUT_RATE_AT + 4) continue;
        // sampleRate is a documented option the published types leave out.
        const options = { forceStereo: false, sampleRate: decodeRate(head) };
        decoder = new OggOpusDecoder(options);
        await decoder.ready;
        bytes = head;
      }
      for (const slice of slices(bytes)) {
        const block = await decode(slice, decoder);
        if (block) yield block;
      }
    }
    if (!decoder && head.length > 0) {
      decoder = new OggOpusDecoder();
      await decoder.ready;
      const block = await decode(head, decoder);
      if (block) yield block;
    }
    const tail = decoder ? await decode(null, decoder) : null;
    if (tail) yield tail;
  } finally {
    decoder?.free();
  }
  if (counter.frames === 0) throw new AudioDecodeError('No Opus audio could be decoded from the Ogg stream');
}
