import type { Request, Response } from 'express';

/**
 * Which browser contexts may use a playback response. Media responses carry
 * `Cross-Origin-Resource-Policy: same-origin` by default, so a page on another origin that
 * embeds a link cannot use the audio; serving it anyway would audit a `media.read` nobody
 * heard and burn a single-use link. The decision is therefore made from the request alone
 * (Fetch Metadata and `Origin`, both set by the browser and not by page scripts) before the
 * link is used:
 * - an `Origin` listed in MEDIA_EMBED_ORIGINS gets CORS and `CORP: cross-origin`;
 * - no fetch metadata (curl, a PBX, an older browser) is served unless `Origin` names another
 *   origin, which only a browser acting for another page sends;
 * - `same-origin` and `none` (the link typed, pasted or bookmarked) are served;
 * - a top-level navigation from another site (a link clicked in a ticket) is served: the media
 *   document it opens belongs to the vault's origin;
 * - anything else from another origin (`<audio>` without `crossorigin`, an unlisted origin,
 *   an iframe, which `frame-ancestors 'none'` forbids) is refused.
 */
export type EmbedDecision =
  | { readonly kind: 'same-origin' }
  | { readonly kind: 'cors'; readonly origin: string }
  | { readonly kind: 'refuse'; readonly seen: FetchContext };

/** What the browser said about the request; recorded in the refusal's audit event. */
export interface FetchContext {
  readonly origin: string | null;
  readonly site: string | null;
  readonly mode: string | null;
  readonly dest: string | null;
}

export interface EmbedPolicy {
  /** Serialised origins (`https://crm.example.com`), as validated by the config schema. */
  readonly origins: ReadonlySet<string>;
  /** PUBLIC_URL, whose origin is the vault's own however the request reached it. */
  readonly publicUrl?: string;
}

const EXPOSED = 'Content-Range, Accept-Ranges, Content-Length, ETag, X-Request-Id';

export function fetchContext(req: Request): FetchContext {
  const header = (name: string): string | null => {
    const v = req.get(name);
    return v === undefined ? null : v.slice(0, 200);
  };
  return { origin: header('origin'), site: header('sec-fetch-site'), mode: header('sec-fetch-mode'), dest: header('sec-fetch-dest') };
}

export function decideEmbedding(req: Request, policy: EmbedPolicy): EmbedDecision {
  const seen = fetchContext(req);
  if (seen.origin !== null && policy.origins.has(seen.origin)) return { kind: 'cors', origin: seen.origin };
  const sameOrigin: EmbedDecision = { kind: 'same-origin' };
  if (seen.site === null) return seen.origin === null || isOwnOrigin(seen.origin, req, policy) ? sameOrigin : { kind: 'refuse', seen };
  if (seen.site === 'same-origin' || seen.site === 'none') return sameOrigin;
  if (seen.mode === 'navigate' && seen.dest === 'document') return sameOrigin;
  return { kind: 'refuse', seen };
}

function isOwnOrigin(origin: string, req: Request, policy: EmbedPolicy): boolean {
  if (policy.publicUrl !== undefined && origin === new URL(policy.publicUrl).origin) return true;
  const host = req.get('host');
  return host !== undefined && origin === `${req.protocol}://${host}`.toLowerCase();
}

/**
 * Response headers for the decision, set before anything else is decided so that refusals
 * (403, 416) reach a listed page's script too. Every answer varies with `Origin`.
 */
export function applyEmbedding(res: Response, decision: EmbedDecision): void {
  res.vary('Origin');
  if (decision.kind !== 'cors') return;
  res.setHeader('Access-Control-Allow-Origin', decision.origin);
  res.setHeader('Access-Control-Expose-Headers', EXPOSED);
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
}
