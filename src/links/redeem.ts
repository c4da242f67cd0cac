import type { AuditEventInput, AuditLog } from '../audit/types.js';
import { AppError, DependencyError, ForbiddenError, GoneError, type CodeWithStatus } from '../errors.js';
import type { ExfiltrationGuard } from '../guards/index.js';
import type { RecordingStore } from '../recordings/store.js';
import type { Recording } from '../recordings/types.js';
import type { Link, LinkStore } from './store.js';
import type { LinkSigner } from './token.js';

/**
 * Redeeming a playback link: the token is the credential. Admission checks the signature (no
 * I/O), then reads the link row and what the database clock says of it, then the recording;
 * nothing is spent. The use is decided once more, for good, by `commit`: in one transaction the
 * row is locked, its verdict re-read on the same clock, the use recorded and `media.read`
 * written. No check runs against the application's clock. Every refusal is audited (never
 * naming the token) and comes back as a decision carrying the 403 the holder should see.
 */
export interface RedemptionDeps {
  readonly links: Pick<LinkStore, 'inspect' | 'claim'>;
  readonly signer: Pick<LinkSigner, 'verify' | 'issuerTag' | 'clientFingerprint'>;
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  /** Authentication lockout and the exfiltration budget (src/guards). */
  readonly guards?: {
    readonly onAuthFailure?: (ip: string) => Promise<void>;
    readonly exfiltration?: Pick<ExfiltrationGuard, 'checkRedeem'>;
  };
}

/** Who presents the link. */
export interface LinkClient { readonly ip: string; readonly userAgent: string | null; readonly requestId: string }

export interface RedeemRequest {
  readonly token: string;
  readonly client: LinkClient;
  /**
   * Set when the requesting browser context would not be allowed to use the answer: the link is
   * then refused before anything is spent, and this (what the browser said) goes into the audit.
   */
  readonly refusedFetch?: object | null;
}

/** What was asked for, not what will be delivered: the client may hang up after the first byte. */
export interface ReadRequest { readonly range: string | null; readonly start: number; readonly end: number; readonly head: boolean }

export type DenyReason = 'malformed' | 'bad_signature' | 'expired' | 'unknown_link' | 'revoked' | 'used' | 'recording_unavailable' | 'origin_refused' | 'superseded';

/** 403, or 410 for a link to a version redacted away (src/redaction). */
export interface Denied { readonly allowed: false; readonly reason: DenyReason; readonly error: ForbiddenError | GoneError }
export interface Admitted { readonly allowed: true; readonly link: Link; readonly recording: Recording; readonly client: LinkClient }
export type Admission = Admitted | Denied;
export type Redemption = { readonly allowed: true; readonly link: Link } | Denied;

/**
 * Refusals that mean someone is guessing or forging tokens; they count towards the source's
 * authentication lockout. Expired, revoked or used-up links were genuinely issued and cannot be
 * brute-forced, so a player retrying one does not lock its address out.
 */
const FORGERY: ReadonlySet<DenyReason> = new Set(['malformed', 'bad_signature', 'unknown_link']);

/** Refusals carry a code the holder can act on (messages from the error registry unless given); the audit event carries the precise reason. */
const DENIALS: Record<DenyReason, readonly [CodeWithStatus<403> | CodeWithStatus<410>, string?]> = {
  malformed: ['link_invalid'],
  bad_signature: ['link_invalid'],
  unknown_link: ['link_invalid'],
  recording_unavailable: ['link_invalid', 'This link no longer leads to a recording'],
  expired: ['link_expired'],
  revoked: ['link_revoked'],
  used: ['link_used'],
  superseded: ['link_superseded'],
  origin_refused: ['link_origin_refused',
    'This page may not play the link: embed it with <audio crossorigin> from an origin listed in MEDIA_EMBED_ORIGINS, or open the link directly'],
};


type ClaimedLink = Pick<Link, 'id' | 'tenant' | 'recordingId'>;

export class LinkRedemption {
  constructor(private readonly deps: RedemptionDeps) {}

  /** The link and its recording, or a refusal; spends nothing. May throw 429 (the download budget). */
  async admit(request: RedeemRequest): Promise<Admission> {
    const { client } = request;
    const verified = this.deps.signer.verify(request.token);
    if (!verified.ok) return this.deny(client, verified.reason, null);
    const c = verified.claims;
    const claimed: ClaimedLink = { id: c.linkId, tenant: c.tenant, recordingId: c.recordingId };
    const state = await this.deps.links.inspect(c.tenant, c.linkId, this.fingerprint(client));
    if (!state || state.link.recordingId !== c.recordingId || this.deps.signer.issuerTag(state.link.issuedBy) !== c.issuer) {
      return this.deny(client, 'unknown_link', claimed);
    }
    if (state.verdict !== 'usable') return this.deny(client, state.verdict, claimed);
    const recording = await this.deps.recordings.findActive(c.tenant, c.recordingId);
    if (!recording) return this.deny(client, 'recording_unavailable', claimed);
    const { link } = state;
    // Before the link is spent or anything is audited as read: a browser would not let the page use the answer.
    if (request.refusedFetch) return this.deny(client, 'origin_refused', link, request.refusedFetch);
    // Counted against the issuer, once per link per window however many Range requests follow.
    await this.deps.guards?.exfiltration?.checkRedeem(link.tenant, link.issuedBy, link.id, client);
    return { allowed: true, link, recording, client };
  }

  /**
   * The deciding use: claims the link and writes `media.read` in one transaction. A refusal
   * (revoked, expired or taken since admission) spends nothing; DependencyError (503) when the
   * audit event or the database write failed, in which case the link stays unused.
   */
  async commit(admitted: Admitted, read: ReadRequest): Promise<Redemption> {
    const { link, recording, client } = admitted;
    const event: AuditEventInput = {
      tenant: link.tenant, actorSub: `link:${link.id}`, actorRole: null,
      action: link.purpose === 'download' ? 'media.downloaded' : 'media.read', outcome: 'allowed',
      recordingId: recording.id, linkId: link.id, ip: client.ip, userAgent: client.userAgent, requestId: client.requestId,
      details: {
        range: read.range?.slice(0, 100) ?? null, start: read.start, end: read.end, sizeBytes: recording.sizeBytes,
        method: read.head ? 'HEAD' : 'GET', issuedBy: link.issuedBy, singleUse: link.singleUse,
      },
    };
    let verdict;
    try {
      verdict = await this.deps.links.claim(link.tenant, link.id, this.fingerprint(client), (trx) => this.deps.audit.record(event, trx));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new DependencyError('database', 'The playback could not be recorded', err);
    }
    if (verdict === 'usable') return { allowed: true, link };
    return this.deny(client, verdict ?? 'unknown_link', link);
  }

  private fingerprint(client: LinkClient): string {
    return this.deps.signer.clientFingerprint(client.ip, client.userAgent);
  }

  private async deny(client: LinkClient, reason: DenyReason, link: ClaimedLink | null, fetch?: object): Promise<Denied> {
    await this.deps.audit.recordDenied({
      tenant: link?.tenant ?? null, actorSub: link ? `link:${link.id}` : 'anonymous', actorRole: null, action: 'auth.denied',
      outcome: 'denied', linkId: link?.id ?? null, recordingId: link?.recordingId ?? null, ip: client.ip, userAgent: client.userAgent,
      requestId: client.requestId, details: { reason: `link_${reason}`, route: 'GET /media/{token}', ...(fetch ? { fetch } : {}) },
    }, client.ip);
    if (FORGERY.has(reason)) await this.deps.guards?.onAuthFailure?.(client.ip);
    const [code, message] = DENIALS[reason];
    return { allowed: false, reason, error: code === 'link_superseded' ? new GoneError(message) : new ForbiddenError(message, code) };
  }
}
