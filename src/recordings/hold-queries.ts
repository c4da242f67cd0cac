import type { Db, Trx } from '../db/knex.js';
import { applyFilter, type RecordingFilter } from './filter.js';
import { isUuid } from '../lib/uuid.js';
import { RECORDING_STATUS as S, type RecordingStatus } from './status.js';

/**
 * Legal holds and erasure lookups on the recordings table. Every statement names the tenant: a
 * request of one tenant can neither see nor change another tenant's rows, whatever id it sends.
 */
export interface HoldRecord {
  readonly id: string;
  readonly status: RecordingStatus;
  readonly objectKey: string | null;
  readonly legalHold: boolean;
  readonly reason: string | null;
  readonly caseId: string | null;
  readonly setBy: string | null;
  readonly setAt: Date | null;
}

export interface NewHold { readonly reason: string; readonly caseId: string | null; readonly by: string }

/** A recording a bulk hold or release changed. */
export interface HeldObject { readonly id: string; readonly objectKey: string | null }

interface HoldRow {
  id: string; tenant: string; status: RecordingStatus; object_key: string | null; legal_hold: boolean; legal_hold_reason: string | null;
  legal_hold_case_id: string | null; legal_hold_by: string | null; legal_hold_at: Date | null;
}

const HOLD_COLUMNS = ['id', 'status', 'object_key', 'legal_hold', 'legal_hold_reason', 'legal_hold_case_id', 'legal_hold_by', 'legal_hold_at'];

function mapHold(r: HoldRow): HoldRecord {
  return {
    id: r.id, status: r.status, objectKey: r.object_key, legalHold: r.legal_hold, reason: r.legal_hold_reason,
    caseId: r.legal_hold_case_id, setBy: r.legal_hold_by, setAt: r.legal_hold_at,
  };
}

function holdValues(trx: Trx, hold: NewHold) {
  return { legal_hold: true, legal_hold_reason: hold.reason, legal_hold_case_id: hold.caseId, legal_hold_by: hold.by, legal_hold_at: trx.fn.now() };
}

const NO_HOLD = { legal_hold: false, legal_hold_reason: null, legal_hold_case_id: null, legal_hold_by: null, legal_hold_at: null };

/** Locks one recording of the tenant, any status, for a governance change; undefined when there is none. */
export async function lockHoldState(trx: Trx, tenant: string, id: string): Promise<HoldRecord | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await trx<HoldRow>('recordings').where({ tenant, id }).forUpdate().first();
  return row ? mapHold(row) : undefined;
}

/** Sets (or replaces the reason and case of) the hold on one recording of the tenant. */
export async function setHold(trx: Trx, tenant: string, id: string, hold: NewHold): Promise<HoldRecord | undefined> {
  const [row] = await trx('recordings').where({ tenant, id }).update(holdValues(trx, hold)).returning<HoldRow[]>(HOLD_COLUMNS);
  return row ? mapHold(row) : undefined;
}

/** Clears the hold on one recording of the tenant; false when no such row. */
export async function clearHold(trx: Trx, tenant: string, id: string): Promise<boolean> {
  const changed = await trx('recordings').where({ tenant, id }).update(NO_HOLD);
  return changed > 0;
}

/** Holds every active, unheld recording of the tenant matching `filter`. */
export async function holdMatching(trx: Trx, tenant: string, filter: RecordingFilter, hold: NewHold): Promise<HeldObject[]> {
  const rows = await applyFilter(trx('recordings').where({ tenant, status: S.active, legal_hold: false }), filter)
    .update(holdValues(trx, hold)).returning<Array<{ id: string; object_key: string | null }>>(['id', 'object_key']);
  return rows.map((r) => ({ id: r.id, objectKey: r.object_key }));
}

/** Active recordings of the tenant matching `filter` that are on hold. */
export async function countHeldMatching(trx: Trx, tenant: string, filter: RecordingFilter): Promise<number> {
  const row = await applyFilter(trx('recordings').count<{ count: number }[]>('* as count').where({ tenant, status: S.active, legal_hold: true }), filter).first();
  return Number(row?.count ?? 0);
}

/** Releases every hold of the tenant placed under `caseId` on a recording not yet deleted. */
export async function releaseCaseHolds(trx: Trx, tenant: string, caseId: string): Promise<HeldObject[]> {
  const rows = await trx('recordings').where({ tenant, legal_hold: true, legal_hold_case_id: caseId }).whereNot({ status: S.deleted })
    .update(NO_HOLD).returning<Array<{ id: string; object_key: string | null }>>(['id', 'object_key']);
  return rows.map((r) => ({ id: r.id, objectKey: r.object_key }));
}

export interface SubjectMatch { readonly id: string; readonly callId: string; readonly legalHold: boolean; readonly caseId: string | null }

/** Active recordings of the tenant whose caller or callee has the keyed phone hash `hash`. */
export async function activeBySubject(db: Db | Trx, tenant: string, hash: string): Promise<SubjectMatch[]> {
  const rows = await db('recordings').select<Array<{ id: string; call_id: string; legal_hold: boolean; legal_hold_case_id: string | null }>>('id', 'call_id', 'legal_hold', 'legal_hold_case_id')
    .where({ tenant, status: S.active }).andWhere((w) => { w.where({ from_hash: hash }).orWhere({ to_hash: hash }); });
  return rows.map((r) => ({ id: r.id, callId: r.call_id, legalHold: r.legal_hold, caseId: r.legal_hold_case_id }));
}

/** One matter: the holds of the tenant placed under one case id (null: holds without a case). */
export interface HoldMatter { readonly caseId: string | null; readonly count: number; readonly firstSetAt: Date | null; readonly lastSetAt: Date | null }

/** The tenant's holds grouped by case id, the most recently changed matter first. */
export async function holdMatters(db: Db | Trx, tenant: string): Promise<HoldMatter[]> {
  const rows = await db('recordings')
    .select<Array<{ case_id: string | null; count: string; first_at: Date | null; last_at: Date | null }>>(
      'legal_hold_case_id as case_id', db.raw('count(*) AS count'), db.raw('min(legal_hold_at) AS first_at'), db.raw('max(legal_hold_at) AS last_at'))
    .where({ tenant, legal_hold: true }).whereNot({ status: S.deleted })
    .groupBy('legal_hold_case_id').orderByRaw('max(legal_hold_at) DESC NULLS LAST, legal_hold_case_id');
  return rows.map((r) => ({ caseId: r.case_id, count: Number(r.count), firstSetAt: r.first_at, lastSetAt: r.last_at }));
}

export interface HeldRecording extends HoldRecord { readonly callId: string; readonly startedAt: Date | null }

/**
 * A page of the tenant's held recordings, in id order after `afterId`: of one case when `caseId`
 * is a string, of no case when it is null, all when it is undefined.
 */
export async function heldRecordings(db: Db | Trx, tenant: string, opts: { caseId?: string | null; afterId?: string; limit: number }): Promise<HeldRecording[]> {
  const q = db('recordings').select<Array<HoldRow & { call_id: string; started_at: Date | null }>>([...HOLD_COLUMNS, 'call_id', 'started_at'])
    .where({ tenant, legal_hold: true }).whereNot({ status: S.deleted });
  if (opts.caseId === null) q.whereNull('legal_hold_case_id');
  else if (opts.caseId !== undefined) q.andWhere({ legal_hold_case_id: opts.caseId });
  if (opts.afterId !== undefined) q.andWhere('id', '>', opts.afterId);
  const rows = await q.orderBy('id').limit(opts.limit);
  return rows.map((r) => ({ ...mapHold(r), callId: r.call_id, startedAt: r.started_at }));
}
