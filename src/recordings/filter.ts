import type { Knex } from 'knex';
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import type { PhoneHasher } from './phone.js';
import type { Direction } from './types.js';

/**
 * The recording filter shared by metadata search and bulk governance requests (legal holds by
 * filter): the one place its fields, validation and SQL live.
 * `from` (inclusive) and `to` (exclusive) bound startedAt, or the upload time when the PBX sent
 * none; `phone` matches the caller or the callee through the keyed phone hash.
 */
export interface RecordingFilter {
  readonly from?: Date;
  readonly to?: Date;
  readonly agentId?: string;
  readonly callId?: string;
  readonly direction?: Direction;
  readonly tag?: string;
  readonly phoneHash?: string;
}

const text = (max: number) => z.string().trim().min(1).max(max);
const instant = z.string().datetime({ offset: true }).transform((s) => new Date(s));

export const filterFields = {
  from: instant.optional(),
  to: instant.optional(),
  agentId: text(128).optional(),
  callId: text(200).optional(),
  direction: z.enum(['inbound', 'outbound', 'internal']).optional(),
  tag: text(64).optional(),
  phone: text(64).optional(),
};

export const filterSchema = z.strictObject(filterFields);

export type FilterInput = z.infer<typeof filterSchema>;

export function toRecordingFilter(input: FilterInput, phones: Pick<PhoneHasher, 'hash'>): RecordingFilter {
  if (input.from && input.to && input.from >= input.to) throw new BadRequestError('filter.from must be earlier than filter.to', 'invalid_filter');
  return {
    ...(input.from ? { from: input.from } : {}), ...(input.to ? { to: input.to } : {}),
    ...(input.agentId ? { agentId: input.agentId } : {}), ...(input.callId ? { callId: input.callId } : {}),
    ...(input.direction ? { direction: input.direction } : {}), ...(input.tag ? { tag: input.tag } : {}),
    ...(input.phone ? { phoneHash: phones.hash(input.phone) } : {}),
  };
}

// The expression recordings_search_idx is built on; keyset pagination must use it verbatim.
export const SORT_KEY = 'coalesce(started_at, created_at)';

export function applyFilter<Q extends Knex.QueryBuilder>(query: Q, f: RecordingFilter): Q {
  if (f.agentId !== undefined) query.andWhere({ agent_id: f.agentId });
  if (f.callId !== undefined) query.andWhere({ call_id: f.callId });
  if (f.direction !== undefined) query.andWhere({ direction: f.direction });
  if (f.tag !== undefined) query.andWhereRaw('tags @> ARRAY[?]::text[]', [f.tag]);
  if (f.phoneHash !== undefined) {
    const hash = f.phoneHash;
    query.andWhere((w) => { w.where({ from_hash: hash }).orWhere({ to_hash: hash }); });
  }
  if (f.from !== undefined) query.andWhereRaw(`${SORT_KEY} >= ?`, [f.from]);
  if (f.to !== undefined) query.andWhereRaw(`${SORT_KEY} < ?`, [f.to]);
  return query;
}

/** The filter as it goes into the audit log: the phone only as its keyed hash. */
export function auditableFilter(f: RecordingFilter): Record<string, unknown> {
  return { ...f, ...(f.from ? { from: f.from.toISOString() } : {}), ...(f.to ? { to: f.to.toISOString() } : {}) };
}
