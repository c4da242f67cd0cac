import type { Db, Trx } from '../db/knex.js';
import { isUuid } from '../lib/uuid.js';
import { RECORDING_STATUS } from '../recordings/status.js';
import type { Redaction, RedactionCategory, RedactionFill, RedactionRange, RedactionRequest, RequestStatus, SealedOriginal } from './types.js';

/** The redaction tables (migrations/20261202000601_redaction.ts). Every query names the tenant. */
interface RedactionRow {
  id: string; tenant: string; recording_id: string; version: number; category: RedactionCategory; fill: RedactionFill; reason: string;
  ranges: RedactionRange[]; previous_sha256: string; previous_size_bytes: string | number; previous_content_type: string;
  sha256: string; size_bytes: string | number; content_type: string; original_kept: boolean; requested_by: string;
  approved_by: string | null; created_at: Date;
}

interface RequestRow {
  id: string; tenant: string; recording_id: string; status: RequestStatus; category: RedactionCategory; fill: RedactionFill;
  reason: string; ranges: RedactionRange[]; requested_by: string; requested_role: string | null; decided_by: string | null;
  decided_at: Date | null; decision_note: string | null; redaction_id: string | null; created_at: Date;
}

interface OriginalRow {
  redaction_id: string; tenant: string; recording_id: string; version: number; object_key: string | null; sha256: string;
  size_bytes: string | number; content_type: string; segment_size: number | null; crypto_header: Buffer | null;
  wrapped_key: Buffer | null; key_ref: string | null;
}

function mapRedaction(r: RedactionRow): Redaction {
  return {
    id: r.id, tenant: r.tenant, recordingId: r.recording_id, version: r.version, category: r.category, fill: r.fill, reason: r.reason,
    ranges: r.ranges, previousSha256: r.previous_sha256, previousSizeBytes: Number(r.previous_size_bytes), previousContentType: r.previous_content_type,
    sha256: r.sha256, sizeBytes: Number(r.size_bytes), contentType: r.content_type, originalKept: r.original_kept,
    requestedBy: r.requested_by, approvedBy: r.approved_by, createdAt: r.created_at,
  };
}

function mapRequest(r: RequestRow): RedactionRequest {
  return {
    id: r.id, tenant: r.tenant, recordingId: r.recording_id, status: r.status, category: r.category, fill: r.fill, reason: r.reason,
    ranges: r.ranges, requestedBy: r.requested_by, requestedRole: r.requested_role, decidedBy: r.decided_by, decidedAt: r.decided_at,
    decisionNote: r.decision_note, redactionId: r.redaction_id, createdAt: r.created_at,
  };
}

function mapOriginal(r: OriginalRow): SealedOriginal {
  return {
    redactionId: r.redaction_id, tenant: r.tenant, recordingId: r.recording_id, version: r.version, objectKey: r.object_key,
    sha256: r.sha256, sizeBytes: Number(r.size_bytes), contentType: r.content_type, segmentSize: r.segment_size,
    cryptoHeader: r.crypto_header, wrappedKey: r.wrapped_key, keyRef: r.key_ref,
  };
}

export type NewRedaction = Omit<Redaction, 'createdAt'>;
export type NewRequest = Pick<RedactionRequest, 'id' | 'tenant' | 'recordingId' | 'category' | 'fill' | 'reason' | 'ranges' | 'requestedBy' | 'requestedRole'>;

export class RedactionStore {
  constructor(private readonly db: Db) {}

  async insert(r: NewRedaction, trx: Trx): Promise<Redaction> {
    const [row] = await trx<RedactionRow>('redactions').insert({
      id: r.id, tenant: r.tenant, recording_id: r.recordingId, version: r.version, category: r.category, fill: r.fill, reason: r.reason,
      ranges: JSON.stringify(r.ranges) as unknown as RedactionRange[], previous_sha256: r.previousSha256, previous_size_bytes: r.previousSizeBytes,
      previous_content_type: r.previousContentType, sha256: r.sha256, size_bytes: r.sizeBytes, content_type: r.contentType,
      original_kept: r.originalKept, requested_by: r.requestedBy, approved_by: r.approvedBy,
    }).returning('*');
    if (!row) throw new Error('redaction insert returned no row');
    return mapRedaction(row);
  }

  async listFor(tenant: string, recordingId: string): Promise<Redaction[]> {
    if (!isUuid(recordingId)) return [];
    const rows = await this.db<RedactionRow>('redactions').where({ tenant, recording_id: recordingId }).orderBy('version');
    return rows.map(mapRedaction);
  }

  async insertRequest(r: NewRequest, trx?: Trx): Promise<RedactionRequest> {
    const [row] = await (trx ?? this.db)<RequestRow>('redaction_requests').insert({
      id: r.id, tenant: r.tenant, recording_id: r.recordingId, category: r.category, fill: r.fill, reason: r.reason,
      ranges: JSON.stringify(r.ranges) as unknown as RedactionRange[], requested_by: r.requestedBy, requested_role: r.requestedRole,
    }).returning('*');
    if (!row) throw new Error('redaction request insert returned no row');
    return mapRequest(row);
  }

  async findRequest(tenant: string, id: string, trx?: Trx): Promise<RedactionRequest | null> {
    if (!isUuid(id)) return null;
    const query = (trx ?? this.db)<RequestRow>('redaction_requests').where({ tenant, id });
    const row = await (trx ? query.forUpdate() : query).first();
    return row ? mapRequest(row) : null;
  }

  async listRequests(tenant: string, status: RequestStatus | null): Promise<RedactionRequest[]> {
    const query = this.db<RequestRow>('redaction_requests').where({ tenant });
    if (status) query.andWhere({ status });
    return (await query.orderBy('created_at', 'desc').limit(500)).map(mapRequest);
  }

  /** Decides a pending request; false when it was no longer pending. */
  async decide(trx: Trx, tenant: string, id: string, d: { status: 'approved' | 'refused'; by: string; note: string | null; redactionId: string | null }): Promise<boolean> {
    const n = await trx('redaction_requests').where({ tenant, id, status: 'pending' })
      .update({ status: d.status, decided_by: d.by, decided_at: trx.raw('clock_timestamp()'), decision_note: d.note, redaction_id: d.redactionId });
    return n > 0;
  }

  async attachRedaction(trx: Trx, tenant: string, requestId: string, redactionId: string): Promise<void> {
    await trx('redaction_requests').where({ tenant, id: requestId }).update({ redaction_id: redactionId });
  }

  async insertOriginal(o: SealedOriginal, trx: Trx): Promise<void> {
    await trx('redaction_originals').insert({
      redaction_id: o.redactionId, tenant: o.tenant, recording_id: o.recordingId, version: o.version, object_key: o.objectKey,
      sha256: o.sha256, size_bytes: o.sizeBytes, content_type: o.contentType, segment_size: o.segmentSize,
      crypto_header: o.cryptoHeader, wrapped_key: o.wrappedKey, key_ref: o.keyRef,
    });
  }

  /** A sealed original of a recording not deleted, with its key; null otherwise. */
  async findOriginal(tenant: string, recordingId: string, redactionId: string): Promise<SealedOriginal | null> {
    if (!isUuid(recordingId) || !isUuid(redactionId)) return null;
    const row = await this.db<OriginalRow>('redaction_originals as o').select('o.*')
      .join('recordings as r', function on() { this.on('r.id', '=', 'o.recording_id').andOn('r.tenant', '=', 'o.tenant'); })
      .where({ 'o.tenant': tenant, 'o.recording_id': recordingId, 'o.redaction_id': redactionId })
      .whereNot('r.status', RECORDING_STATUS.deleted).whereNotNull('o.wrapped_key').first();
    return row ? mapOriginal(row as OriginalRow) : null;
  }

  async keepsPiiOriginal(tenant: string, trx?: Trx): Promise<boolean> {
    const row = await (trx ?? this.db)('redaction_settings').select<{ keep_pii_original: boolean }[]>('keep_pii_original').where({ tenant }).first();
    return row?.keep_pii_original ?? false;
  }

  async setKeepPiiOriginal(tenant: string, keep: boolean, by: string, trx: Trx): Promise<void> {
    await trx('redaction_settings').insert({ tenant, keep_pii_original: keep, updated_by: by })
      .onConflict('tenant').merge({ keep_pii_original: keep, updated_by: by, updated_at: trx.fn.now() });
  }
}
