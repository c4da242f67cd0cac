import type { Db, Trx } from '../db/knex.js';
import { holdLiveness, type ClaimOwner, type Liveness } from '../db/locks.js';
import { applyFilter, SORT_KEY, type RecordingFilter } from './filter.js';
import * as lifecycle from './lifecycle-queries.js';
import type { ClaimedRecording, DueRecording } from './lifecycle-queries.js';
import { RECORDING_STATUS as S, type RecordingStatus } from './status.js';
import type { Direction, Recording } from './types.js';
import { isUuid } from '../lib/uuid.js';
import { liveRecordings } from './live-queries.js';

/**
 * Data access for recordings. The SQL against the table lives here and in the query modules
 * beside it (lifecycle-queries.ts, hold-queries.ts, key-queries.ts); nothing else queries it.
 * Every read and every update of a tenant's rows names the tenant, so a handler cannot forget
 * it; only the retention worker's claims sweep all tenants, and they then name each row by
 * tenant and id. Rows that are being deleted or are tombstones are not returned by reads meant
 * for listeners.
 */
export interface RecordingRow {
  id: string; tenant: string; call_id: string; status: RecordingStatus; object_key: string | null;
  sha256: string; size_bytes: number; content_type: string; segment_size: number | null;
  crypto_header: Buffer | null; wrapped_key: Buffer | null; key_ref: string | null; policy: string | null;
  retain_until: Date | null; started_at: Date | null; duration_seconds: number | null; direction: Direction | null;
  from_number: string | null; to_number: string | null; from_hash: string | null; to_hash: string | null;
  agent_id: string | null; tags: string[]; uploaded_by: string | null; legal_hold: boolean;
  legal_hold_reason: string | null; legal_hold_case_id: string | null; created_at: Date;
  deleted_at: Date | null; deletion_reason: string | null;
}

export function mapRow(row: RecordingRow): Recording {
  return {
    id: row.id, tenant: row.tenant, callId: row.call_id, status: row.status, objectKey: row.object_key,
    sha256: row.sha256, sizeBytes: Number(row.size_bytes), contentType: row.content_type, segmentSize: row.segment_size,
    cryptoHeader: row.crypto_header, wrappedKey: row.wrapped_key, keyRef: row.key_ref, policy: row.policy,
    retainUntil: row.retain_until, startedAt: row.started_at, durationSeconds: row.duration_seconds, direction: row.direction,
    from: row.from_number, to: row.to_number, agentId: row.agent_id, tags: row.tags ?? [], uploadedBy: row.uploaded_by,
    legalHold: row.legal_hold, legalHoldReason: row.legal_hold_reason, legalHoldCaseId: row.legal_hold_case_id,
    createdAt: row.created_at, deletedAt: row.deleted_at, deletionReason: row.deletion_reason,
  };
}

export interface NewRecording {
  readonly id: string; readonly tenant: string; readonly callId: string; readonly objectKey: string;
  readonly sha256: string; readonly sizeBytes: number; readonly contentType: string; readonly segmentSize: number;
  readonly cryptoHeader: Buffer; readonly wrappedKey: Buffer; readonly keyRef: string; readonly policy: string;
  readonly retainUntil: Date; readonly startedAt: Date | null; readonly durationSeconds: number | null;
  readonly direction: Direction | null; readonly from: string | null; readonly to: string | null;
  readonly fromHash: string | null; readonly toHash: string | null; readonly agentId: string | null;
  readonly tags: readonly string[]; readonly uploadedBy: string; readonly legalHold?: boolean;
}

/** Where a page of search results ended: the exact sort key (microseconds, as text) and id. */
export interface SearchPosition { readonly sortKey: string; readonly id: string }

/** Filters of a metadata search; `agentScope` is the row-level restriction, not a client filter. */
export interface RecordingSearch extends RecordingFilter {
  readonly tenant: string;
  readonly agentScope: string | null;
  readonly after?: SearchPosition;
  readonly limit: number;
}

export interface SearchPage { readonly items: Recording[]; readonly next: SearchPosition | null }

export class RecordingStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Trx) {
    return (trx ?? this.db)<RecordingRow>('recordings');
  }

  /** Inserts unless (tenant, callId) exists; returns null on that conflict. */
  async insert(r: NewRecording, trx?: Trx): Promise<Recording | null> {
    const rows = await this.q(trx).insert({
      id: r.id, tenant: r.tenant, call_id: r.callId, status: S.active, object_key: r.objectKey, sha256: r.sha256,
      size_bytes: r.sizeBytes, content_type: r.contentType, segment_size: r.segmentSize, crypto_header: r.cryptoHeader,
      wrapped_key: r.wrappedKey, key_ref: r.keyRef, policy: r.policy, retain_until: r.retainUntil, started_at: r.startedAt,
      duration_seconds: r.durationSeconds, direction: r.direction, from_number: r.from, to_number: r.to,
      from_hash: r.fromHash, to_hash: r.toHash, agent_id: r.agentId, tags: [...r.tags], uploaded_by: r.uploadedBy,
      legal_hold: r.legalHold ?? false,
    }).onConflict(['tenant', 'call_id']).ignore().returning('*');
    const row = rows[0];
    return row ? mapRow(row) : null;
  }

  /** Any status: idempotent re-uploads must see tombstones too. */
  async findByCallId(tenant: string, callId: string, trx?: Trx): Promise<Recording | null> {
    const row = await this.q(trx).where({ tenant, call_id: callId }).first();
    return row ? mapRow(row) : null;
  }

  /** An active recording of this tenant; `agentId` narrows to an agent's own recordings. */
  async findActive(tenant: string, id: string, agentId: string | null = null, trx?: Trx): Promise<Recording | null> {
    if (!isUuid(id)) return null;
    const query = this.q(trx).where({ tenant, id, status: S.active });
    if (agentId !== null) query.andWhere({ agent_id: agentId });
    const row = await query.first();
    return row ? mapRow(row) : null;
  }

  /** Which of `ids` are active or being deleted, as `tenant/id` (src/recordings/live-queries.ts). */
  liveRecordings(ids: readonly string[]): Promise<Set<string>> {
    return liveRecordings(this.db, ids);
  }

  /** Any status, for governance operations that must see tombstones. */
  async findAny(tenant: string, id: string, trx?: Trx): Promise<Recording | null> {
    if (!isUuid(id)) return null;
    const row = await this.q(trx).where({ tenant, id }).first();
    return row ? mapRow(row) : null;
  }

  /**
   * Newest first on (coalesce(startedAt, createdAt), id), keyset-paginated. The sort key is read
   * back as text so the next page starts at the exact microsecond, not a millisecond-rounded Date.
   */
  async search(s: RecordingSearch, trx?: Trx): Promise<SearchPage> {
    const query = this.q(trx).select<(RecordingRow & { sort_key: string })[]>('*', this.db.raw(`${SORT_KEY}::text AS sort_key`))
      .where({ tenant: s.tenant, status: S.active });
    if (s.agentScope !== null) query.andWhere({ agent_id: s.agentScope });
    applyFilter(query, s);
    if (s.after !== undefined) query.andWhereRaw(`(${SORT_KEY}, id) < (?::timestamptz, ?::uuid)`, [s.after.sortKey, s.after.id]);
    const rows = await query.orderByRaw(`${SORT_KEY} DESC, id DESC`).limit(s.limit + 1);
    const page = rows.slice(0, s.limit);
    const last = page[page.length - 1];
    return { items: page.map(mapRow), next: rows.length > s.limit && last ? { sortKey: last.sort_key, id: last.id } : null };
  }

  async lockActive(tenant: string, id: string, trx: Trx): Promise<Recording | null> {
    if (!isUuid(id)) return null;
    const row = await this.q(trx).where({ tenant, id, status: S.active }).forUpdate().first();
    return row ? mapRow(row) : null;
  }

  // The deletion lifecycle (lifecycle-queries.ts), for services that take narrowed deps.

  /** Holds the liveness lock that keeps `who`'s claims from being taken over while it works. */
  holdClaimLiveness(who: ClaimOwner): Promise<Liveness> {
    return holdLiveness(this.db, who, 'retention.liveness');
  }

  claimDue(who: ClaimOwner, now: Date, limit: number, leaseSeconds: number, by: string): Promise<ClaimedRecording[]> {
    return lifecycle.claimDue(this.db, who, now, limit, leaseSeconds, by);
  }

  reclaimAbandoned(who: ClaimOwner, limit: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
    return lifecycle.reclaimAbandoned(this.db, who, limit, leaseSeconds);
  }

  stillClaimed(who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>): Promise<Set<string>> {
    return lifecycle.stillClaimed(this.db, who, rows);
  }

  listDue(now: Date, pageSize: number): AsyncGenerator<DueRecording> {
    return lifecycle.listDue(this.db, now, pageSize);
  }

  countHeldDue(now: Date): Promise<number> {
    return lifecycle.countHeldDue(this.db, now);
  }

  oldestOverdue(now: Date): Promise<Date | null> {
    return lifecycle.oldestOverdue(this.db, now);
  }

  destroyKeys(who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>): Promise<void> {
    return lifecycle.destroyKeys(this.db, who, rows);
  }

  tombstone(who: ClaimOwner, rows: ReadonlyArray<{ tenant: string; id: string }>, revokedBy: string, trx: Trx): Promise<Set<string>> {
    return lifecycle.tombstone(trx, who, rows, revokedBy);
  }

  referencedObjectKeys(ids: readonly string[]): Promise<Set<string | null>> {
    return lifecycle.referencedObjectKeys(this.db, ids);
  }
}

