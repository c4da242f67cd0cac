import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { IntegrityError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import { requestIdOf } from '../http/problem.js';
import type { Recording } from '../recordings/types.js';
import type { PlaybackRange } from './playback.js';

/** The answer to a committed playback: its headers, then its bytes, counted as they leave. */
export interface RequestedRange extends PlaybackRange { readonly partial: boolean }

export function etagOf(recording: Recording): string {
  return `"${recording.sha256}"`;
}

/** `attachment` for a download link, so the browser saves the file rather than playing it. */
export function setPlaybackHeaders(res: Response, recording: Recording, range: RequestedRange, disposition: 'inline' | 'attachment' = 'inline'): void {
  const { start, endInclusive: end } = range;
  res.status(range.partial ? 206 : 200);
  res.setHeader('Content-Type', recording.contentType);
  res.setHeader('Content-Length', String(end - start + 1));
  if (range.partial) res.setHeader('Content-Range', `bytes ${start}-${end}/${recording.sizeBytes}`);
  res.setHeader('ETag', etagOf(recording));
  res.setHeader('Content-Disposition', `${disposition}; filename="${recording.id}${extensionOf(recording.contentType)}"`);
  // The media document a browser builds for a direct visit must be allowed to load this very URL.
  res.setHeader('Content-Security-Policy', "default-src 'none'; media-src 'self'; frame-ancestors 'none'");
}

export async function sendPlayback(
  deps: { readonly logger: Logger; readonly metrics: { readonly bytesOut: { inc(n: number): void } } }, body: Readable, res: Response,
): Promise<void> {
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      deps.metrics.bytesOut.inc(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, count, res);
  } catch (err) {
    // Headers are out: all that is left is to cut the connection so the client sees a short body.
    if (err instanceof IntegrityError) deps.logger.error({ err, requestId: requestIdOf(res) }, 'recording failed authentication during playback');
    else deps.logger.debug({ err, requestId: requestIdOf(res) }, 'playback stream ended early');
    res.destroy();
  }
}

const EXTENSIONS: Readonly<Record<string, string>> = {
  'audio/wav': '.wav', 'audio/mpeg': '.mp3', 'audio/ogg': '.ogg', 'audio/flac': '.flac', 'audio/webm': '.webm',
};

function extensionOf(contentType: string): string {
  const base = contentType.split(';')[0]?.trim() ?? '';
  if (contentType.includes('opus')) return '.opus';
  return EXTENSIONS[base] ?? '';
}
