import type { Db, Trx } from '../db/knex.js';
import { isUuid } from '../lib/uuid.js';

/**
 * Playback links. The row, not the token, says whether a link is still good, and the database
 * clock is the only clock that says it: expiry, revocation and single use are decided by one SQL
 * expression, in the database every replica shares. Every query takes the tenant.
 */
interface LinkRow {
  id: string; tenant: string; recording_id: string; issued_by: string; reason: string; single_use: boolean;
  expires_at: Date; revoked_at: Date | null; revoked_by: string | null; first_used_at: Date | null;
  first_used_by: string | null; created_at: Date; purpose: LinkPurpose;
}

/** What a link is for: playing in a player, or downloading the file (a separate permission). */
export type LinkPurpose = 'play' | 'download';

export interface Link {
  readonly id: string;
  readonly tenant: string;
  readonly recordingId: string;
  readonly issuedBy: string;
  readonly reason: string;
  readonly singleUse: boolean;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
  readonly firstUsedAt: Date | null;
  /** Client fingerprint (keyed hash of IP and User-Agent) of the first use. */
  readonly firstUsedBy: string | null;
  readonly createdAt: Date;
  readonly purpose: LinkPurpose;
}

export interface NewLink {
  readonly id: string; readonly tenant: string; readonly recordingId: string; readonly issuedBy: string;
  readonly reason: string; readonly singleUse: boolean;
  /** The link lives this long from the moment the database inserts it. */
  readonly ttlSeconds: number;
  /** 'play' when absent. */
  readonly purpose?: LinkPurpose;
}

/** Whether a client may use a link now: `used` means a single-use link bound to another client. */
/** `superseded`: revoked by a redaction of its recording, so gone for good (410), not merely revoked. */
export type LinkVerdict = 'usable' | 'superseded' | 'revoked' | 'expired' | 'used';

export interface LinkState { readonly link: Link; readonly verdict: LinkVerdict }

/** The revoker of links whose recording was redacted after they were issued: they answer 410. */
export const SUPERSEDED_REVOKER = 'redaction:superseded';

/**
 * The single definition of a link's validity, read on the database clock. A single-use link is
 * bound to the client of its first use for the rest of its lifetime, so a player that pauses and
 * seeks later is still served, and every other client is refused.
 */
const VERDICT = `case when revoked_at is not null and revoked_by = '${SUPERSEDED_REVOKER}' then 'superseded'
  when revoked_at is not null then 'revoked'
  when expires_at <= clock_timestamp() then 'expired'
  when single_use and first_used_by is not null and first_used_by <> ? then 'used'
  else 'usable' end as verdict`;

function mapLink(row: LinkRow): Link {
  return {
    id: row.id, tenant: row.tenant, recordingId: row.recording_id, issuedBy: row.issued_by, reason: row.reason,
    singleUse: row.single_use, expiresAt: row.expires_at, revokedAt: row.revoked_at, revokedBy: row.revoked_by,
    firstUsedAt: row.first_used_at, firstUsedBy: row.first_used_by, createdAt: row.created_at, purpose: row.purpose,
  };
}


/** Ends every link of a recording still standing, in the redaction's transaction (src/redaction). */
export async function supersedeLinks(trx: Trx, tenant: string, recordingId: string): Promise<number> {
  return trx('links').where({ tenant, recording_id: recordingId }).whereNull('revoked_at')
    .update({ revoked_at: trx.raw('clock_timestamp()'), revoked_by: SUPERSEDED_REVOKER });
}

export class LinkStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Trx) {
    return (trx ?? this.db)<LinkRow>('links');
  }

  /** The expiry is computed by the database, like every later decision about the link. */
  async insert(link: NewLink, trx?: Trx): Promise<Link> {
    const rows = await this.q(trx).insert({
      id: link.id, tenant: link.tenant, recording_id: link.recordingId, issued_by: link.issuedBy, reason: link.reason,
      single_use: link.singleUse, purpose: link.purpose ?? 'play', expires_at: this.db.raw('clock_timestamp() + make_interval(secs => ?)', [link.ttlSeconds]),
    }).returning('*');
    const row = rows[0];
    if (!row) throw new Error('link insert returned no row');
    return mapLink(row);
  }

  /** The link and what the database clock says of its use by `fingerprint` now; nothing is changed. */
  async inspect(tenant: string, id: string, fingerprint: string, trx?: Trx): Promise<LinkState | null> {
    if (!isUuid(id)) return null;
    const row = await this.q(trx).select('*', this.db.raw(VERDICT, [fingerprint])).where({ tenant, id }).first() as (LinkRow & { verdict: LinkVerdict }) | undefined;
    return row ? { link: mapLink(row), verdict: row.verdict } : null;
  }

  /** Revokes (idempotently); null when the tenant has no such link. */
  async revoke(tenant: string, id: string, by: string, trx?: Trx): Promise<{ link: Link; alreadyRevoked: boolean } | null> {
    if (!isUuid(id)) return null;
    const before = await this.q(trx).where({ tenant, id }).forUpdate().first();
    if (!before) return null;
    if (before.revoked_at) return { link: mapLink(before), alreadyRevoked: true };
    const rows = await this.q(trx).where({ tenant, id }).update({ revoked_at: this.db.fn.now(), revoked_by: by }).returning('*');
    const row = rows[0];
    return row ? { link: mapLink(row), alreadyRevoked: false } : null;
  }

  /**
   * The deciding use of a link, in one transaction: the verdict is read under the row lock, and
   * when it is `usable` the use is recorded and `alongside` (the audit event of the use) runs
   * before the commit. Two clients racing for an unused single-use link: the second waits on the
   * lock, re-reads the row the first committed, and finds it bound to someone else. Null when
   * the tenant has no such link.
   */
  async claim(tenant: string, id: string, fingerprint: string, alongside: (trx?: Trx) => Promise<void>): Promise<LinkVerdict | null> {
    if (!isUuid(id)) return null;
    return this.db.transaction(async (trx) => {
      const state = await trx<LinkRow>('links').select(this.db.raw(VERDICT, [fingerprint])).where({ tenant, id }).forUpdate().first() as { verdict: LinkVerdict } | undefined;
      if (!state) return null;
      if (state.verdict !== 'usable') return state.verdict;
      await this.q(trx).where({ tenant, id }).update({
        first_used_at: this.db.raw('coalesce(first_used_at, clock_timestamp())'),
        first_used_by: this.db.raw('coalesce(first_used_by, ?)', [fingerprint]),
      });
      await alongside(trx);
      return 'usable';
    });
  }
}
