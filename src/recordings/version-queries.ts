import type { Db, Trx } from '../db/knex.js';
import { mapRow, type RecordingRow } from './store.js';
import { RECORDING_STATUS as S } from './status.js';
import type { Recording } from './types.js';

/**
 * Versions of a recording (src/redaction): the row keeps its id while its object, data key and
 * hashes are replaced by the next version's in one compare-and-set update.
 */
export interface NextVersion {
  readonly objectKey: string; readonly sha256: string; readonly sizeBytes: number; readonly contentType: string;
  readonly segmentSize: number; readonly cryptoHeader: Buffer; readonly wrappedKey: Buffer; readonly keyRef: string;
}

/**
 * Makes `next` the current version of an active recording still at `expectedVersion`; null when
 * the row changed meanwhile (another redaction, a deletion claim). The previous wrapped key is
 * overwritten here: after the commit no row holds it. What the PBX sent is kept as `received_*`
 * (unless DTMF masking already set it), since SQL reads the old values on the right-hand side.
 */
export async function replaceVersion(trx: Trx, tenant: string, id: string, expectedVersion: number, next: NextVersion): Promise<Recording | null> {
  const rows = await trx('recordings').where({ tenant, id, status: S.active, version: expectedVersion }).update({
    object_key: next.objectKey, sha256: next.sha256, size_bytes: next.sizeBytes, content_type: next.contentType,
    segment_size: next.segmentSize, crypto_header: next.cryptoHeader, wrapped_key: next.wrappedKey, key_ref: next.keyRef,
    version: expectedVersion + 1, redacted_at: trx.raw('clock_timestamp()'),
    // A PBX retrying its upload sends what it sent first: it must still get its receipt (200), not a conflict.
    received_sha256: trx.raw('coalesce(received_sha256, sha256)'), received_size_bytes: trx.raw('coalesce(received_size_bytes, size_bytes)'),
    received_content_type: trx.raw('coalesce(received_content_type, content_type)'),
  }).returning<RecordingRow[]>('*');
  const row = rows[0];
  return row ? mapRow(row) : null;
}

/**
 * The keys among `objectKeys` that something not deleted still names: an active or deleting
 * recording as its current object, or a sealed original (redaction_originals) of a recording not
 * deleted, whose key is not destroyed. The orphan sweep deletes the rest.
 */
export async function referencedKeys(db: Db | Trx, objectKeys: readonly string[]): Promise<Set<string>> {
  if (objectKeys.length === 0) return new Set();
  const keys = [...objectKeys];
  const result = await db.raw<{ rows: Array<{ object_key: string }> }>(`
    SELECT object_key FROM recordings WHERE object_key = ANY(?::text[]) AND status <> '${S.deleted}'
    UNION
    SELECT o.object_key FROM redaction_originals o JOIN recordings r ON r.id = o.recording_id
    WHERE o.object_key = ANY(?::text[]) AND o.wrapped_key IS NOT NULL AND r.status <> '${S.deleted}'`, [keys, keys]);
  return new Set(result.rows.map((r) => r.object_key));
}

/** Destroys the wrapped keys of the sealed originals of recordings being tombstoned, in their transaction. */
export async function destroyOriginalKeys(trx: Trx, recordingIds: readonly string[]): Promise<void> {
  if (recordingIds.length === 0) return;
  await trx('redaction_originals').whereRaw('recording_id = ANY(?::uuid[])', [[...recordingIds]]).update({ wrapped_key: null, crypto_header: null });
}
