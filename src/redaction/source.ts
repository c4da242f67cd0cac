import { pipeline, type Readable } from 'node:stream';
import { AudioDecodeError, canDecode } from '../audio/index.js';
import { DECODABLE_FORMATS } from '../audio/decode.js';
import { openPlayback, type PlaybackDeps } from '../media/playback.js';
import type { Recording } from '../recordings/types.js';
import { openRedactedDecoded } from './decoded.js';
import { planFrames } from './plan.js';
import type { RedactionOrder } from './types.js';
import { WavRedactor } from './wav-redact.js';
import { wavLayout, WAV_PROBE_BYTES } from './wav.js';
import { readAll } from '../lib/read-all.js';

/**
 * The redacted plaintext of a recording, as a stream read from its decrypted object. Ranges are
 * checked against the audio before anything is written, so a bad range costs no data key.
 * WAV keeps its format, its samples rewritten in place (wav-redact.ts); the compressed formats
 * are decoded and become WAV PCM16 (decoded.ts).
 */
export interface RedactedBody { readonly body: Readable }

export async function openRedacted(deps: PlaybackDeps, r: Recording, order: RedactionOrder): Promise<RedactedBody> {
  const type = r.contentType.split(';')[0]?.trim();
  if (type === 'audio/wav') return openRedactedWav(deps, r, order);
  if (!canDecode(r.contentType)) throw new AudioDecodeError(`Recordings stored as ${r.contentType} cannot be decoded, so not redacted; ${DECODABLE_FORMATS} can`);
  return { body: await openRedactedDecoded(deps, r, order) };
}

async function openRedactedWav(deps: PlaybackDeps, r: Recording, order: RedactionOrder): Promise<RedactedBody> {
  const head = await readAll(await openPlayback(deps, r, { start: 0, endInclusive: Math.min(r.sizeBytes, WAV_PROBE_BYTES) - 1 }));
  const layout = wavLayout(head, r.sizeBytes);
  const plan = planFrames(order.ranges, order.fill, layout.sampleRate, layout.channels, layout.frames);
  const redactor = new WavRedactor(layout, plan);
  // pipeline, not pipe: a failure on either side destroys both, and the read of the object ends.
  return { body: pipeline(await openPlayback(deps, r), redactor, () => undefined) };
}

