import type { Knex } from 'knex';
import { cleanText, formatAt, hashEvent, jcs, normaliseDetails } from './canonical.js';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, GENESIS_HASH, type AuditEvent, type AuditEventInput } from './types.js';

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
  // Millisecond precision: the stored timestamptz and the hashed text then agree exactly.
  const when = new Date(Math.floor(at.getTime()));
  formatAt(when);
  return {
    at: when,
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

/** Call only while holding the chain lock in this transaction, or the head may move. */
export async function readHead(db: Knex | Knex.Transaction): Promise<ChainHead> {
  const row = await db('audit_events').select<{ seq: string | number; hash: string }[]>(db.raw('seq::text AS seq'), 'hash')
    .orderBy('audit_events.seq', 'desc').first();
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
}

/** Takes the chain lock for the rest of trx. It must be its own statement (see docs/audit.md). */
export async function lockChain(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
}

/** Chains events in order after the current head and inserts them in one statement. */
export async function appendEvents(trx: Knex.Transaction, events: readonly PreparedEvent[]): Promise<AuditEvent[]> {
  if (events.length === 0) return [];
  await lockChain(trx);
  let head = await readHead(trx);
  const chained: AuditEvent[] = [];
  for (const e of events) {
    const unsealed = { ...e, seq: head.seq + 1, prevHash: head.hash };
    const event: AuditEvent = { ...unsealed, hash: hashEvent(unsealed) };
    chained.push(event);
    head = event;
  }
  await trx('audit_events').insert(chained.map(toRow));
  return chained;
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
