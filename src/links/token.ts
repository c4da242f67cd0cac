import { createHmac } from 'node:crypto';
import { deriveKey, SignedBlobCodec } from '../lib/signed-blob.js';
import { isUuid } from '../lib/uuid.js';

/**
 * Playback link tokens: `base64url(payload).base64url(HMAC-SHA256(payload))`. The payload binds
 * the link id, recording id, tenant, issuer and expiry, so none can be changed without the
 * signing key; the issuer is bound through a short keyed hash (HMAC) of its sub, which keeps
 * identities out of URLs: a plain hash could be reversed by hashing candidate subs (employee ids,
 * e-mail addresses) until one matches. The token proves only what it says; whether the link is still good (revoked, used up)
 * is decided by its database row, so a revocation applies on every replica at once.
 */
export interface LinkClaims {
  readonly linkId: string;
  readonly recordingId: string;
  readonly tenant: string;
  /** issuerTag(issuedBy) of the link row. */
  readonly issuer: string;
  /** Expiry, Unix milliseconds. */
  readonly expiresAt: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: LinkClaims }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad_signature' };

/** Longer tokens are refused before any work: a real one is about 220 characters. */
export const MAX_TOKEN_LENGTH = 1024;
const TOKEN_KEY_LABEL = 'callvault media link v1';
const FINGERPRINT_KEY_LABEL = 'callvault link client fingerprint v1';
const ISSUER_KEY_LABEL = 'callvault link issuer v1';

export class LinkSigner {
  private readonly tokens: SignedBlobCodec;
  private readonly fingerprintKey: Buffer;
  private readonly issuerKey: Buffer;

  constructor(secret: Buffer) {
    // Derived keys: one secret file, but a link MAC can't be confused with a cursor MAC or a fingerprint.
    this.tokens = new SignedBlobCodec(secret, TOKEN_KEY_LABEL, MAX_TOKEN_LENGTH);
    this.fingerprintKey = deriveKey(secret, FINGERPRINT_KEY_LABEL);
    this.issuerKey = deriveKey(secret, ISSUER_KEY_LABEL);
  }

  sign(c: LinkClaims): string {
    return this.tokens.seal({ v: 1, l: c.linkId, r: c.recordingId, t: c.tenant, s: c.issuer, e: c.expiresAt });
  }

  /** Signature and shape only; whether the link is still good is its database row's to say. */
  verify(token: string): VerifyResult {
    const opened = this.tokens.open(token);
    if (!opened.ok) return opened;
    const claims = claimsOf(opened.value);
    // A MAC'd payload of the wrong shape can only come from a key compromise or a bug: refuse it all the same.
    return claims ? { ok: true, claims } : { ok: false, reason: 'malformed' };
  }

  /** Who issued the link, as bound into its token: without the signing key, not linkable to a sub. */
  issuerTag(sub: string): string {
    return createHmac('sha256', this.issuerKey).update(sub).digest('base64url').slice(0, 16);
  }

  /**
   * The "same client" of a single-use link: keyed hash of IP and User-Agent, so the links table
   * holds no address in plain text.
   */
  clientFingerprint(ip: string, userAgent: string | null): string {
    return createHmac('sha256', this.fingerprintKey).update(`${ip}\n${userAgent ?? ''}`).digest('hex').slice(0, 32);
  }
}

function claimsOf(p: unknown): LinkClaims | null {
  if (!p || typeof p !== 'object') return null;
  const { v, l, r, t, s, e } = p as Record<string, unknown>;
  if (v !== 1 || typeof l !== 'string' || typeof r !== 'string' || typeof t !== 'string' || typeof s !== 'string') return null;
  if (!isUuid(l) || !isUuid(r) || typeof e !== 'number' || !Number.isSafeInteger(e)) return null;
  return { linkId: l, recordingId: r, tenant: t, issuer: s, expiresAt: e };
}
