import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { auditableFilter, filterFields, rejectFormerFilterNames, toRecordingFilter } from './filter.js';
import type { PhoneHasher } from './phone.js';
import { isUuid } from '../lib/uuid.js';
import type { RecordingSearch, SearchPosition } from './store.js';

/**
 * The query of `GET /v1/recordings` and its opaque cursor. The cursor is the keyset position of
 * the last item served, MAC'd together with the tenant, the agent scope and the filters, so a
 * client can neither forge a position nor carry a cursor over to another tenant or query.
 */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export type SearchFilters = Omit<RecordingSearch, 'tenant' | 'agentScope' | 'after' | 'limit'>;

export interface SearchQuery {
  readonly filters: SearchFilters;
  readonly limit: number;
  readonly cursor: string | null;
}

const schema = z.strictObject({
  ...filterFields,
  limit: z.string().regex(/^\d{1,6}$/, 'limit must be an integer').transform(Number)
    .pipe(z.number().int().min(1, 'limit must be at least 1').max(MAX_LIMIT, `limit must be at most ${MAX_LIMIT}`)).optional(),
  cursor: z.string().min(1).max(1024).optional(),
});

export function parseSearchQuery(input: Record<string, unknown>, phones: Pick<PhoneHasher, 'hash'>): SearchQuery {
  for (const [key, value] of Object.entries(input)) {
    if (key === 'tags' && typeof value !== 'string') throw new BadRequestError('tags must be given once, as a comma list: tags=a,b', 'invalid_query');
    if (typeof value !== 'string') throw new BadRequestError(`${key} must be given once, as text`, 'invalid_query');
  }
  rejectFormerFilterNames(input, 'invalid_query');
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : String(issue?.path[0] ?? 'query');
    throw new BadRequestError(`${where}: ${issue?.message ?? 'invalid'}`, 'invalid_query');
  }
  const q = parsed.data;
  const filters: SearchFilters = toRecordingFilter(q, phones, 'invalid_query');
  return { filters, limit: q.limit ?? DEFAULT_LIMIT, cursor: q.cursor ?? null };
}

/** Filters as they go into the audit log: the phone only as its keyed hash, never in plain text. */
export const auditFilters: (f: SearchFilters) => Record<string, unknown> = auditableFilter;

export interface CursorScope { readonly tenant: string; readonly agentScope: string | null; readonly filters: SearchFilters }

const SORT_KEY_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\+00$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const CURSOR_KEY_LABEL = 'callvault recordings cursor v1';

export class CursorCodec {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    // A key of its own, so a cursor MAC can never be replayed as a link signature or vice versa.
    this.key = createHmac('sha256', secret).update(CURSOR_KEY_LABEL).digest();
  }

  encode(position: SearchPosition, scope: CursorScope): string {
    const payload = Buffer.from(JSON.stringify({ k: position.sortKey, i: position.id })).toString('base64url');
    return `${payload}.${this.mac(payload, scope).toString('base64url')}`;
  }

  /** The position a cursor stands for; 400 invalid_cursor for anything this codec did not issue. */
  decode(cursor: string, scope: CursorScope): SearchPosition {
    const invalid = new BadRequestError('The cursor is not valid for this query; start again without one', 'invalid_cursor');
    const [payload, mac, extra] = cursor.split('.');
    if (!payload || !mac || extra !== undefined || !B64URL.test(payload) || !B64URL.test(mac)) throw invalid;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(payload, scope);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid;
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw invalid;
    }
    const p = decoded as { k?: unknown; i?: unknown } | null;
    if (!p || typeof p.k !== 'string' || typeof p.i !== 'string' || !SORT_KEY_TEXT.test(p.k) || !isUuid(p.i)) throw invalid;
    return { sortKey: p.k, id: p.i };
  }

  private mac(payload: string, scope: CursorScope): Buffer {
    const binding = JSON.stringify([scope.tenant, scope.agentScope, auditFilters(scope.filters)]);
    return createHmac('sha256', this.key).update(binding).update('\n').update(payload).digest();
  }
}
