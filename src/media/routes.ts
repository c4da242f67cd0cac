import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import type { Db } from '../db/knex.js';
import { AppError, DependencyError, IntegrityError, RangeNotSatisfiableError } from '../errors.js';
import type { ExfiltrationGuard } from '../guards/index.js';
import type { Logger } from '../http/logger.js';
import { requestIdOf } from '../http/problem.js';
import { clientIp, userAgentOf } from '../http/secure-router.js';
import { LinkStore, type Link } from '../links/store.js';
import { LinkSigner } from '../links/token.js';
import type { RecordingStore } from '../recordings/store.js';
import type { Recording } from '../recordings/types.js';
import { applyEmbedding, decideEmbedding, type EmbedPolicy, type FetchContext } from './embedding.js';
import { openPlayback, type PlaybackDeps } from './playback.js';
import { decideRange } from './range.js';

/**
 * `GET|HEAD /media/{token}`: the token is the credential. Order matters: signature and expiry
 * (no I/O), then the link row and the recording, then whether the requesting browser context may
 * use the answer at all (embedding.ts), then the range, then the ciphertext is opened
 * (key unwrapped through the cache), and only then, in one transaction, the use is claimed and
 * `media.read` written. Nothing (no header, no byte) is sent before that commit; if it fails the
 * answer is 503 and the opened stream is dropped unread.
 */
export interface MediaRouteDeps extends PlaybackDeps {
  readonly db: Db;
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  readonly linkSigningKey: Buffer;
  readonly logger: Logger;
  readonly metrics: { readonly bytesOut: { inc(n: number): void } };
  readonly config: { readonly media: { readonly embedOrigins: readonly string[] }; readonly http: { readonly publicUrl?: string } };
  /** Authentication lockout and the exfiltration guard (src/guards). */
  readonly guards?: {
    readonly beforeAuth?: (req: Request) => Promise<void>;
    readonly onAuthFailure?: (ip: string) => Promise<void>;
    readonly exfiltration?: Pick<ExfiltrationGuard, 'checkRedeem'>;
  };
}

/** Refusals of a link carry a code the holder can act on; the audit event carries the precise reason. */
export class LinkDeniedError extends AppError {
  constructor(code: 'link_invalid' | 'link_expired' | 'link_revoked' | 'link_used' | 'link_origin_refused', message: string) {
    super(code, message);
  }
}

type DenyReason = 'malformed' | 'bad_signature' | 'expired' | 'unknown_link' | 'revoked' | 'used' | 'recording_unavailable' | 'origin_refused';

/**
 * Refusals that mean someone is guessing or forging tokens; they count towards the source's
 * authentication lockout. Expired, revoked or used-up links were genuinely issued and cannot be
 * brute-forced, so a player retrying one does not lock its address out.
 */
const FORGERY: ReadonlySet<DenyReason> = new Set(['malformed', 'bad_signature', 'unknown_link']);

const DENIALS: Record<DenyReason, () => LinkDeniedError> = {
  malformed: () => new LinkDeniedError('link_invalid', 'This link is not valid'),
  bad_signature: () => new LinkDeniedError('link_invalid', 'This link is not valid'),
  unknown_link: () => new LinkDeniedError('link_invalid', 'This link is not valid'),
  recording_unavailable: () => new LinkDeniedError('link_invalid', 'This link no longer leads to a recording'),
  expired: () => new LinkDeniedError('link_expired', 'This link has expired; ask for a new one'),
  revoked: () => new LinkDeniedError('link_revoked', 'This link has been revoked'),
  used: () => new LinkDeniedError('link_used', 'This single-use link has already been used by another client'),
  origin_refused: () => new LinkDeniedError('link_origin_refused',
    'This page may not play the link: embed it with <audio crossorigin> from an origin listed in MEDIA_EMBED_ORIGINS, or open the link directly'),
};

interface Visit {
  readonly ip: string;
  readonly userAgent: string | null;
  readonly requestId: string;
  readonly fingerprint: string;
}

export function mediaHandler(deps: MediaRouteDeps): RequestHandler {
  const signer = new LinkSigner(deps.linkSigningKey);
  const links = new LinkStore(deps.db);
  const embedding: EmbedPolicy = { origins: new Set(deps.config.media.embedOrigins), publicUrl: deps.config.http.publicUrl };

  const deny = async (
    visit: Visit, reason: DenyReason, link: { id: string; tenant: string; recordingId: string } | null, seen?: FetchContext,
  ): Promise<never> => {
    await deps.audit.recordDenied({
      tenant: link?.tenant ?? null, actorSub: link ? `link:${link.id}` : 'anonymous', actorRole: null, action: 'auth.denied',
      outcome: 'denied', linkId: link?.id ?? null, recordingId: link?.recordingId ?? null, ip: visit.ip, userAgent: visit.userAgent,
      requestId: visit.requestId, details: { reason: `link_${reason}`, route: 'GET /media/{token}', ...(seen ? { fetch: seen } : {}) },
    }, visit.ip);
    if (FORGERY.has(reason)) await deps.guards?.onAuthFailure?.(visit.ip);
    throw DENIALS[reason]();
  };

  /** The link and its recording, or a denial (audited, never naming the token). */
  const admit = async (token: string, visit: Visit): Promise<{ link: Link; recording: Recording }> => {
    const verified = signer.verify(token);
    if (!verified.ok) return deny(visit, verified.reason, null);
    const c = verified.claims;
    const claimed = { id: c.linkId, tenant: c.tenant, recordingId: c.recordingId };
    if (c.expiresAt <= Date.now()) return deny(visit, 'expired', claimed);
    const link = await links.find(c.tenant, c.linkId);
    if (!link || link.recordingId !== c.recordingId || signer.issuerTag(link.issuedBy) !== c.issuer) return deny(visit, 'unknown_link', claimed);
    if (link.revokedAt) return deny(visit, 'revoked', claimed);
    if (link.expiresAt.getTime() <= Date.now()) return deny(visit, 'expired', claimed);
    if (link.singleUse && link.firstUsedAt && link.firstUsedBy !== visit.fingerprint) return deny(visit, 'used', claimed);
    const recording = await deps.recordings.findActive(c.tenant, c.recordingId);
    if (!recording) return deny(visit, 'recording_unavailable', claimed);
    return { link, recording };
  };

  return async (req: Request, res: Response): Promise<void> => {
    // Set first so that refusals (403, 416, 503) are not cached either.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Accept-Ranges', 'bytes');
    const ip = clientIp(req);
    const userAgent = userAgentOf(req);
    const visit: Visit = { ip, userAgent, requestId: requestIdOf(res), fingerprint: signer.clientFingerprint(ip, userAgent) };
    const decision = decideEmbedding(req, embedding);
    applyEmbedding(res, decision);
    await deps.guards?.beforeAuth?.(req);
    const { link, recording } = await admit(String(req.params.token), visit);
    // Before the link is spent or anything is audited as read: a browser would not let the page use the answer.
    if (decision.kind === 'refuse') return deny(visit, 'origin_refused', link, decision.seen);
    // Counted against the issuer, once per link per window however many Range requests follow.
    await deps.guards?.exfiltration?.checkRedeem(link.tenant, link.issuedBy, link.id, visit);
    const etag = `"${recording.sha256}"`;
    const ifRange = req.get('if-range');
    const range = decideRange(ifRange === undefined || ifRange === etag ? req.get('range') : undefined, recording.sizeBytes);
    if (range.kind === 'unsatisfiable') throw new RangeNotSatisfiableError(recording.sizeBytes);
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.endInclusive : recording.sizeBytes - 1;
    const head = req.method === 'HEAD';
    const body = head ? null : await openPlayback(deps, recording, { start, endInclusive: end });
    try {
      const used = await commitUse(deps, links, link, recording, visit, { header: req.get('range') ?? null, start, end, head });
      if (!used) return await deny(visit, 'used', link);
    } catch (err) {
      body?.destroy();
      throw err;
    }
    res.status(range.kind === 'partial' ? 206 : 200);
    res.setHeader('Content-Type', recording.contentType);
    res.setHeader('Content-Length', String(end - start + 1));
    if (range.kind === 'partial') res.setHeader('Content-Range', `bytes ${start}-${end}/${recording.sizeBytes}`);
    res.setHeader('ETag', etag);
    res.setHeader('Content-Disposition', `inline; filename="${recording.id}${extensionOf(recording.contentType)}"`);
    // The media document a browser builds for a direct visit must be allowed to load this very URL.
    res.setHeader('Content-Security-Policy', "default-src 'none'; media-src 'self'; frame-ancestors 'none'");
    if (!body) {
      res.end();
      return;
    }
    await send(deps, body, res);
  };
}

/**
 * Claims the use (atomic for single-use links, re-checking revocation and expiry for all) and
 * writes media.read in the same transaction. False when the claim lost; DependencyError (503)
 * when the audit event or the database write failed, in which case the link stays unused.
 */
async function commitUse(
  deps: MediaRouteDeps, links: LinkStore, link: Link, recording: Recording, visit: Visit,
  range: { header: string | null; start: number; end: number; head: boolean },
): Promise<boolean> {
  const event: AuditEventInput = {
    tenant: link.tenant, actorSub: `link:${link.id}`, actorRole: null, action: 'media.read', outcome: 'allowed',
    recordingId: recording.id, linkId: link.id, ip: visit.ip, userAgent: visit.userAgent, requestId: visit.requestId,
    // What was asked for, not what was delivered: the client may hang up after the first byte.
    details: {
      range: range.header?.slice(0, 100) ?? null, start: range.start, end: range.end, sizeBytes: recording.sizeBytes,
      method: range.head ? 'HEAD' : 'GET', issuedBy: link.issuedBy, singleUse: link.singleUse,
    },
  };
  try {
    return await deps.db.transaction(async (trx) => {
      const claimed = await links.claim(link.tenant, link.id, visit.fingerprint, trx);
      if (!claimed) return false;
      await deps.audit.record(event, trx);
      return true;
    });
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyError('database', 'The playback could not be recorded', err);
  }
}

async function send(deps: MediaRouteDeps, body: Readable, res: Response): Promise<void> {
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
