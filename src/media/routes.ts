import type { Request, RequestHandler, Response } from 'express';
import { RangeNotSatisfiableError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import { requestIdOf } from '../http/problem.js';
import { clientIp, userAgentOf } from '../http/secure-router.js';
import type { LinkClient, LinkRedemption } from '../links/redeem.js';
import type { Recording } from '../recordings/types.js';
import { applyEmbedding, decideEmbedding, type EmbedPolicy } from './embedding.js';
import { openPlayback, type PlaybackDeps } from './playback.js';
import { decideRange } from './range.js';
import { etagOf, sendPlayback, setPlaybackHeaders, type RequestedRange } from './respond.js';

/**
 * `GET|HEAD /media/{token}`: the token is the credential. Order matters: whether the requesting
 * browser context may use the answer at all (embedding.ts) is decided from the request alone,
 * then the link is admitted (src/links/redeem.ts), then the range, then the ciphertext is opened
 * (key unwrapped through the cache), and only then the use is committed with its `media.read`.
 * Nothing (no header, no byte) is sent before that commit; if it fails the answer is 503 and the
 * opened stream is dropped unread.
 */
export interface MediaRouteDeps extends PlaybackDeps {
  readonly redemption: Pick<LinkRedemption, 'admit' | 'commit'>;
  readonly logger: Logger;
  readonly metrics: { readonly bytesOut: { inc(n: number): void } };
  readonly config: { readonly media: { readonly embedOrigins: readonly string[] }; readonly http: { readonly publicUrl?: string } };
  /** Refuses a locked-out source before the token is looked at (src/guards). */
  readonly guards?: { readonly beforeAuth?: (req: Request) => Promise<void> };
}

export function mediaHandler(deps: MediaRouteDeps): RequestHandler {
  const embedding: EmbedPolicy = { origins: new Set(deps.config.media.embedOrigins), publicUrl: deps.config.http.publicUrl };

  return async (req: Request, res: Response): Promise<void> => {
    // Set first so that refusals (403, 416, 503) are not cached either.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Accept-Ranges', 'bytes');
    const client: LinkClient = { ip: clientIp(req), userAgent: userAgentOf(req), requestId: requestIdOf(res) };
    const embed = decideEmbedding(req, embedding);
    applyEmbedding(res, embed);
    await deps.guards?.beforeAuth?.(req);
    const admission = await deps.redemption.admit({ token: String(req.params.token), client, refusedFetch: embed.kind === 'refuse' ? embed.seen : null });
    if (!admission.allowed) throw admission.error;
    const { recording } = admission;
    const range = requestedRange(req, recording);
    const head = req.method === 'HEAD';
    const body = head ? null : await openPlayback(deps, recording, range);
    try {
      const redeemed = await deps.redemption.commit(admission, { range: req.get('range') ?? null, start: range.start, end: range.endInclusive, head });
      if (!redeemed.allowed) throw redeemed.error;
    } catch (err) {
      body?.destroy();
      throw err;
    }
    setPlaybackHeaders(res, recording, range, admission.link.purpose === 'download' ? 'attachment' : 'inline');
    if (!body) {
      res.end();
      return;
    }
    await sendPlayback(deps, body, res);
  };
}

/** The bytes asked for: `If-Range` naming another version means the whole recording. */
function requestedRange(req: Request, recording: Recording): RequestedRange {
  const ifRange = req.get('if-range');
  const range = decideRange(ifRange === undefined || ifRange === etagOf(recording) ? req.get('range') : undefined, recording.sizeBytes);
  if (range.kind === 'unsatisfiable') throw new RangeNotSatisfiableError(recording.sizeBytes);
  if (range.kind === 'partial') return { start: range.start, endInclusive: range.endInclusive, partial: true };
  return { start: 0, endInclusive: recording.sizeBytes - 1, partial: false };
}
