import type { Db, Trx } from '../db/knex.js';
import { isUuid } from '../lib/uuid.js';

/**
 * Playback links. The row, not the token, says whether a link is still good: revocation and
 * single use are decided here, in the database every replica shares. Every query takes the tenant.
 */
interface LinkRow {
  id: string; tenant: string; recording_id: string; issued_by: string; reason: string; single_use: boolean;
  expires_at: Date; revoked_at: Date | null; revoked_by: string | null; first_used_at: Date | null;
  first_used_by: string | null; created_at: Date;
}

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
}

export interface NewLink {
  readonly id: string; readonly tenant: string; readonly recordingId: string; readonly issuedBy: string;
  readonly reason: string; readonly singleUse: boolean; readonly expiresAt: Date;
}

function mapLink(row: LinkRow): Link {
  return {
    id: row.id, tenant: row.tenant, recordingId: row.recording_id, issuedBy: row.issued_by, reason: row.reason,
    singleUse: row.single_use, expiresAt: row.expires_at, revokedAt: row.revoked_at, revokedBy: row.revoked_by,
    firstUsedAt: row.first_used_at, firstUsedBy: row.first_used_by, createdAt: row.created_at,
  };
}

export class LinkStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Trx) {
    return (trx ?? this.db)<LinkRow>('links');
  }

  async insert(link: NewLink, trx?: Trx): Promise<Link> {
    const rows = await this.q(trx).insert({
      id: link.id, tenant: link.tenant, recording_id: link.recordingId, issued_by: link.issuedBy, reason: link.reason,
      single_use: link.singleUse, expires_at: link.expiresAt,
    }).returning('*');
    const row = rows[0];
    if (!row) throw new Error('link insert returned no row');
    return mapLink(row);
  }

  async find(tenant: string, id: string, trx?: Trx): Promise<Link | null> {
    if (!isUuid(id)) return null;
    const row = await this.q(trx).where({ tenant, id }).first();
    return row ? mapLink(row) : null;
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
   * Records a use, in one statement, if the link may still be used: not revoked, not expired,
   * and, when single-use, either never used or first used by this same client. The first use
   * binds a single-use link to its client for the rest of its lifetime, so a player that pauses
   * and seeks later is still served, and every other client is refused. Two clients racing for
   * an unused single-use link: the row lock makes the second re-check after the first commits,
   * and it then finds the link taken. Null when the use is refused.
   */
  async claim(tenant: string, id: string, fingerprint: string, trx?: Trx): Promise<Link | null> {
    if (!isUuid(id)) return null;
    const rows = await this.q(trx).where({ tenant, id }).whereNull('revoked_at').andWhereRaw('expires_at > clock_timestamp()')
      .andWhere((w) => {
        w.where({ single_use: false }).orWhereNull('first_used_at').orWhere({ first_used_by: fingerprint });
      })
      .update({
        first_used_at: this.db.raw('coalesce(first_used_at, clock_timestamp())'),
        first_used_by: this.db.raw('coalesce(first_used_by, ?)', [fingerprint]),
      })
      .returning('*');
    const row = rows[0];
    return row ? mapLink(row) : null;
  }
}
