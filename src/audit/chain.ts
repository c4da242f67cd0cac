import type { Knex } from 'knex';
import { cleanText, formatAt, hashEvent, jcs, normaliseDetails } from './canonical.js';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, GENESIS_HASH, type AuditEvent, type AuditEventInput } from './types.js';
import { inRawTransaction } from './raw-transaction.js';

/**
 * Appending to the chain. Every append takes one transaction-scoped advisory lock, reads the
 * head and inserts rows whose seq and prevHash continue it; the lock is held until the
 * inserting transaction ends, so appends from any number of processes serialise into one
 * gapless chain, and a rolled-back append leaves no hole.
 */

/** Key of the advisory lock that serialises appends (arbitrary, fixed forever). */
export const AUDIT_CHAIN_LOCK_KEY = '6370617564697401';

/** An event with its time fixed and every value cleaned, ready to be chained. */
export type PreparedEvent = Omit<AuditEvent, 'seq' | 'prevHash' | 'hash'>;

const ACTIONS: ReadonlySet<string> = new Set(AUDIT_ACTIONS);
const OUTCOMES: ReadonlySet<string> = new Set(AUDIT_OUTCOMES);

function optionalText(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new TypeError(`audit ${field} must be a string or null`);
  return cleanText(value);
}

/** Validates an input (TypeError on a programming error) and fixes its time to `at`. */
export function prepareEvent(input: AuditEventInput, at: Date): PreparedEvent {
  if (!ACTIONS.has(input.action)) throw new TypeError(`unknown audit action "${String(input.action)}"`);
  if (!OUTCOMES.has(input.outcome)) throw new TypeError(`unknown audit outcome "${String(input.outcome)}"`);
  if (typeof input.actorSub !== 'string' || input.actorSub.length === 0) throw new TypeError('audit actorSub must be a non-empty string');
  // Rejects years outside 0000-9999, which RFC 3339 text cannot carry.
  formatAt(at);
  return {
    at: new Date(at.getTime()),
    tenant: optionalText(input.tenant, 'tenant'),
    actorSub: cleanText(input.actorSub),
    actorRole: optionalText(input.actorRole, 'actorRole'),
    action: input.action,
    outcome: input.outcome,
    recordingId: optionalText(input.recordingId, 'recordingId'),
    linkId: optionalText(input.linkId, 'linkId'),
    ip: optionalText(input.ip, 'ip'),
    userAgent: optionalText(input.userAgent, 'userAgent'),
    requestId: optionalText(input.requestId, 'requestId'),
    details: normaliseDetails(input.details),
  };
}

export interface ChainHead { seq: number; hash: string }

/**
 * Takes the chain lock, then reads the head, in one round trip. Each statement of a
 * simple-protocol query string gets its own snapshot under READ COMMITTED, so the head read
 * sees every append committed before the lock was granted; had the two been one statement, its
 * snapshot would predate the lock and could miss the append that held it.
 */
const LOCK_AND_HEAD = `SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY}); `
  + 'SELECT seq::text AS seq, hash FROM audit_events ORDER BY audit_events.seq DESC LIMIT 1';

interface HeadResult { rows: { seq: string; hash: string }[] }

function headOf(results: HeadResult | HeadResult[]): ChainHead {
  const last = Array.isArray(results) ? results[results.length - 1] : results;
  const row = last?.rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
}

function chainAfter(head: ChainHead, events: readonly PreparedEvent[]): AuditEvent[] {
  const chained: AuditEvent[] = [];
  let prev = head;
  for (const e of events) {
    const unsealed = { ...e, seq: prev.seq + 1, prevHash: prev.hash };
    const event: AuditEvent = { ...unsealed, hash: hashEvent(unsealed) };
    chained.push(event);
    prev = event;
  }
  return chained;
}

/**
 * Appends inside the caller's transaction (READ COMMITTED, the default). The lock is then held
 * until that transaction ends, so callers should record as the last step before committing.
 */
export async function appendEvents(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<AuditEvent[]> {
  if (events.length === 0) return [];
  const chained = chainAfter(headOf(await trx.raw<HeadResult[]>(LOCK_AND_HEAD)), events);
  // A statement carries at most 65,535 bind parameters; a row of audit_events takes 15.
  for (let i = 0; i < chained.length; i += INSERT_ROWS) {
    await trx('audit_events').insert(chained.slice(i, i + INSERT_ROWS).map(toRow));
  }
  return chained;
}

const INSERT_ROWS = 2_000;

/**
 * Appends a batch in its own transaction in three round trips (begin, lock and head; insert;
 * commit) on a connection taken straight from the pool: this is the hot path of every audited
 * request, and each round trip is time the chain lock is held. Resolves after COMMIT.
 */
export async function appendBatch(db: Knex, events: readonly PreparedEvent[], lockTimeoutMs: number): Promise<AuditEvent[]> {
  return inRawTransaction(db, lockTimeoutMs, async (conn, begin) => {
    const chained = chainAfter(headOf(await conn.query<HeadResult[]>(`${begin}${LOCK_AND_HEAD}`)), events);
    const insert = db('audit_events').insert(chained.map(toRow)).toSQL().toNative();
    await conn.query(insert.sql, insert.bindings);
    return chained;
  });
}

function toRow(e: AuditEvent): Record<string, string | number | null> {
  return {
    seq: e.seq,
    // An explicit UTC instant: its meaning cannot depend on the session's TimeZone or DateStyle.
    at: formatAt(e.at),
    tenant: e.tenant,
    actor_sub: e.actorSub,
    actor_role: e.actorRole,
    action: e.action,
    outcome: e.outcome,
    recording_id: e.recordingId,
    link_id: e.linkId,
    ip: e.ip,
    user_agent: e.userAgent,
    request_id: e.requestId,
    details: jcs(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
