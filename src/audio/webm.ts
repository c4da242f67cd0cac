import { OpusDecoder, type OpusDecoderSampleRate } from 'opus-decoder';
import { BlockCounter, slices } from './compressed.js';
import { EbmlError } from './ebml.js';
import { AudioDecodeError } from './errors.js';
import { opusOutputRate } from './opus.js';
import type { PcmBlock } from './types.js';
import { WebmDemuxer, type WebmFrame, type WebmTrack } from './webm-demux.js';

type Decoder = OpusDecoder<OpusDecoderSampleRate>;

function failure(reason: string): AudioDecodeError {
  return new AudioDecodeError(`The WebM file could not be decoded: ${reason}`);
}

/**
 * libopus set up from the track's CodecPrivate, which is an OpusHead as in Ogg (RFC 7845): the
 * channel mapping, and the pre-skip (in 48 kHz samples) that libopus drops from the start.
 */
async function opusDecoderFor(track: WebmTrack): Promise<Decoder> {
  if (track.codecId !== 'A_OPUS') throw failure(`its audio is ${track.codecId || 'of no codec'}; WebM with Opus can be decoded`);
  if (track.encoded) throw failure('its audio track is compressed or encrypted (ContentEncodings)');
  const head = track.codecPrivate;
  if (head.length < 19 || head.toString('latin1', 0, 8) !== 'OpusHead') throw failure('the Opus track has no OpusHead');
  const channels = head[9] ?? 0;
  const family = head[18] ?? 0;
  if (channels === 0 || (family === 0 && channels > 2) || (family !== 0 && head.length < 21 + channels)) throw failure('the OpusHead is damaged');
  const sampleRate = opusOutputRate(head.readUInt32LE(12)) as OpusDecoderSampleRate;
  const mapping = family === 0
    ? { streamCount: 1, coupledStreamCount: channels - 1, channelMappingTable: channels === 1 ? [0] : [0, 1] }
    : { streamCount: head[19] ?? 0, coupledStreamCount: head[20] ?? 0, channelMappingTable: [...head.subarray(21, 21 + channels)] };
  const decoder = new OpusDecoder({ channels, sampleRate, preSkip: Math.round((head.readUInt16LE(10) * sampleRate) / 48000), forceStereo: false, ...mapping });
  await decoder.ready;
  return decoder;
}

/**
 * Decodes a batch of frames. Matroska's DiscardPadding trims the end of a frame (the last one,
 * where the encoder padded), so a batch ends at a frame that carries one.
 */
function decodeBatch(decoder: Decoder, frames: WebmFrame[]): { channelData: Float32Array[]; samples: number; rate: number } {
  const out = decoder.decodeFrames(frames.map((f) => f.data));
  const discardNs = frames.at(-1)?.discardNs ?? 0;
  const drop = Math.min(out.samplesDecoded, Math.round((discardNs * out.sampleRate) / 1e9));
  return { channelData: out.channelData, samples: out.samplesDecoded - drop, rate: out.sampleRate };
}

/**
 * Decodes WebM (or Matroska) holding Opus, as browsers' MediaRecorder and many softphones write
 * it: the demuxer hands over the audio track's frames as the bytes arrive, libopus decodes them
 * per 8 KiB slice of input. Memory is one slice's frames and output.
 */
export async function* decodeWebm(source: AsyncIterable<Buffer>): AsyncGenerator<PcmBlock> {
  const demuxer = new WebmDemuxer();
  const counter = new BlockCounter((from, to) => failure(`it changes from ${from} to ${to} channels`));
  let decoder: Decoder | null = null;
  const demux = (slice: Buffer): WebmFrame[] => {
    try {
      return demuxer.push(slice);
    } catch (err) {
      if (err instanceof EbmlError) throw failure(err.message);
      throw err;
    }
  };
  try {
    for await (const chunk of source) {
      for (const slice of slices(chunk)) {
        const frames = demux(slice);
        if (demuxer.tracksRead && !decoder) {
          if (!demuxer.audio) throw failure('it has no audio track');
          decoder = await opusDecoderFor(demuxer.audio);
        }
        if (!decoder) continue;
        for (let start = 0; start < frames.length;) {
          let end = start + 1;
          while (end < frames.length && frames[end - 1]?.discardNs === 0) end++;
          const out = decodeBatch(decoder, frames.slice(start, end));
          const block = counter.next(out.channelData, out.samples, out.rate);
          if (block) yield block;
          start = end;
        }
      }
    }
  } finally {
    decoder?.free();
  }
  if (counter.frames === 0) throw failure(decoder ? 'no Opus frame decoded' : 'no track list was found');
}
