import type { Knex } from 'knex';
import { z } from 'zod';
import { BadRequestError, type CodeWithStatus } from '../errors.js';
import { tagList } from './metadata.js';
import type { PhoneHasher } from './phone.js';
import type { Direction } from './types.js';

/**
 * The recording filter shared by metadata search and bulk governance requests (legal holds by
 * filter): the one place its fields, validation and SQL live. Its names are the upload's own:
 * `from`, `to` and `phone` are phone numbers, matched through the keyed phone hash (`phone`
 * matches the caller or the callee); `startedAfter` (inclusive) and `startedBefore` (exclusive)
 * bound startedAt, or the upload time when the PBX sent none; `tags` must all be present.
 */
export interface RecordingFilter {
  readonly startedAfter?: Date;
  readonly startedBefore?: Date;
  readonly agentId?: string;
  readonly callId?: string;
  readonly direction?: Direction;
  /** Sorted and without duplicates, so one set of tags is one filter (and one cursor binding). */
  readonly tags?: readonly string[];
  readonly fromHash?: string;
  readonly toHash?: string;
  readonly phoneHash?: string;
}

const text = (max: number) => z.string().trim().min(1).max(max);
const instant = z.string().datetime({ offset: true }).transform((s) => new Date(s));
// A JSON body may send the tags as an array; a query string sends the comma list of the upload.
const tags = z.preprocess(
  (v) => (Array.isArray(v) && v.every((t) => typeof t === 'string') ? v.join(',') : v),
  tagList.refine((list) => list.length > 0, 'tags must name at least one tag'),
);

export const filterFields = {
  startedAfter: instant.optional(),
  startedBefore: instant.optional(),
  from: text(64).optional(),
  to: text(64).optional(),
  phone: text(64).optional(),
  agentId: text(128).optional(),
  callId: text(200).optional(),
  direction: z.enum(['inbound', 'outbound', 'internal']).optional(),
  tags: tags.optional(),
};

export const filterSchema = z.strictObject(filterFields);

export type FilterInput = z.infer<typeof filterSchema>;

// Before the filter took the upload's names, `from`/`to` bounded the time and `tag` took one tag.
const OLD_INSTANT = /^[+-]?\d{4,6}-\d{2}-\d{2}T/;

/**
 * A client written against the former names gets a 400 that names the new parameter, never a
 * silently different search: `tag` is gone, and a timestamp in `from`/`to` is no phone number.
 */
export function rejectFormerFilterNames(input: unknown, code: CodeWithStatus<400>, prefix = ''): void {
  if (!input || typeof input !== 'object') return;
  const fields = input as Record<string, unknown>;
  if (Object.hasOwn(fields, 'tag')) {
    throw new BadRequestError(`${prefix}tag was renamed: use ${prefix}tags (a comma list; every tag must match)`, code);
  }
  for (const [name, replacement] of [['from', 'startedAfter'], ['to', 'startedBefore']] as const) {
    const value = fields[name];
    if (typeof value === 'string' && OLD_INSTANT.test(value.trim())) {
      throw new BadRequestError(`${prefix}${name} is a phone number, as on upload; for a time range use ${prefix}${replacement}`, code);
    }
  }
}

export function toRecordingFilter(input: FilterInput, phones: Pick<PhoneHasher, 'hash'>, code: CodeWithStatus<400> = 'invalid_filter'): RecordingFilter {
  if (input.startedAfter && input.startedBefore && input.startedAfter >= input.startedBefore) {
    throw new BadRequestError('startedAfter must be earlier than startedBefore', code);
  }
  return {
    ...(input.startedAfter ? { startedAfter: input.startedAfter } : {}),
    ...(input.startedBefore ? { startedBefore: input.startedBefore } : {}),
    ...(input.agentId ? { agentId: input.agentId } : {}), ...(input.callId ? { callId: input.callId } : {}),
    ...(input.direction ? { direction: input.direction } : {}),
    ...(input.tags ? { tags: [...new Set(input.tags)].sort() } : {}),
    ...(input.from ? { fromHash: phones.hash(input.from) } : {}),
    ...(input.to ? { toHash: phones.hash(input.to) } : {}),
    ...(input.phone ? { phoneHash: phones.hash(input.phone) } : {}),
  };
}

// The expression recordings_search_idx is built on; keyset pagination must use it verbatim.
export const SORT_KEY = 'coalesce(started_at, created_at)';

export function applyFilter<Q extends Knex.QueryBuilder>(query: Q, f: RecordingFilter): Q {
  if (f.agentId !== undefined) query.andWhere({ agent_id: f.agentId });
  if (f.callId !== undefined) query.andWhere({ call_id: f.callId });
  if (f.direction !== undefined) query.andWhere({ direction: f.direction });
  // recordings_tags_idx (GIN) serves the containment operator.
  if (f.tags !== undefined) query.andWhereRaw('tags @> ?::text[]', [[...f.tags]]);
  if (f.fromHash !== undefined) query.andWhere({ from_hash: f.fromHash });
  if (f.toHash !== undefined) query.andWhere({ to_hash: f.toHash });
  if (f.phoneHash !== undefined) {
    const hash = f.phoneHash;
    query.andWhere((w) => { w.where({ from_hash: hash }).orWhere({ to_hash: hash }); });
  }
  if (f.startedAfter !== undefined) query.andWhereRaw(`${SORT_KEY} >= ?`, [f.startedAfter]);
  if (f.startedBefore !== undefined) query.andWhereRaw(`${SORT_KEY} < ?`, [f.startedBefore]);
  return query;
}

/** The filter as it goes into the audit log (and the cursor binding): numbers only as keyed hashes. */
export function auditableFilter(f: RecordingFilter): Record<string, unknown> {
  return {
    ...f,
    ...(f.startedAfter ? { startedAfter: f.startedAfter.toISOString() } : {}),
    ...(f.startedBefore ? { startedBefore: f.startedBefore.toISOString() } : {}),
  };
}
