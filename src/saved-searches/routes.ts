import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/knex.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import type { SecureRouter } from '../http/secure-router.js';
import type { PhoneHasher } from '../recordings/phone.js';
import { parseSearchQuery } from '../recordings/search.js';
import type { SavedSearch, SavedSearchStore, SearchOwner } from './store.js';

/**
 * `GET|POST /v1/saved-searches`, `DELETE /v1/saved-searches/{id}`: the caller's own named
 * filters for `GET /v1/recordings`. A saved query is validated exactly as the search validates
 * it, so a saved search always runs; it holds filters only (no cursor, no page size).
 */
/** The search filters that hold a phone number (src/recordings/filters.ts). */
const PHONE_FILTERS = ['phone', 'from', 'to'] as const;

export interface SavedSearchRouteDeps {
  readonly db: Db;
  readonly savedSearches: Pick<SavedSearchStore, 'list' | 'lock' | 'count' | 'insert' | 'delete'>;
  readonly phones: Pick<PhoneHasher, 'hash'>;
}

/** Enough for any person's working set; a client looping on POST stops here. */
export const MAX_SAVED_SEARCHES = 100;

const createBody = z.strictObject({
  name: z.string().trim().min(1, 'name must not be empty').max(100, 'name must be at most 100 characters'),
  query: z.record(z.string(), z.string().max(300)),
});

export interface SavedSearchView { readonly id: string; readonly name: string; readonly query: Readonly<Record<string, string>>; readonly createdAt: string }

function view(s: SavedSearch): SavedSearchView {
  return { id: s.id, name: s.name, query: s.query, createdAt: s.createdAt.toISOString() };
}

export function registerSavedSearchRoutes(router: SecureRouter, deps: SavedSearchRouteDeps): void {
  const ownerOf = (p: { tenant: string; sub: string }): SearchOwner => ({ tenant: p.tenant, sub: p.sub });

  router.route({
    method: 'get', path: '/v1/saved-searches', permission: 'recording:list',
    handler: async (_req, res, ctx) => {
      const items = await deps.savedSearches.list(ownerOf(ctx.principal));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ items: items.map(view) });
    },
  });

  router.route({
    method: 'post', path: '/v1/saved-searches', permission: 'recording:list', body: createBody,
    handler: async (_req, res, ctx, { body }) => {
      const query = Object.fromEntries(Object.entries(body.query).filter(([, v]) => v.trim() !== ''));
      for (const key of ['cursor', 'limit']) {
        if (Object.hasOwn(query, key)) throw new BadRequestError(`query.${key}: a saved search holds filters only`, 'invalid_query');
      }
      // The vault keeps phone numbers only as keyed hashes, which erasure by number reaches; a saved
      // filter would keep one in plain text, out of that reach.
      for (const key of PHONE_FILTERS) {
        if (Object.hasOwn(query, key)) throw new BadRequestError(`query.${key}: a saved search does not keep phone numbers; search by number each time`, 'invalid_query');
      }
      parseSearchQuery(query, deps.phones);
      const owner = ownerOf(ctx.principal);
      const saved = await deps.db.transaction(async (trx) => {
        await deps.savedSearches.lock(owner, trx);
        if (await deps.savedSearches.count(owner, trx) >= MAX_SAVED_SEARCHES) {
          throw new ConflictError(`At most ${MAX_SAVED_SEARCHES} saved searches per user; delete one first`, 'saved_search_limit');
        }
        return deps.savedSearches.insert(owner, { id: randomUUID(), name: body.name, query }, trx);
      });
      if (!saved) throw new ConflictError(`You already have a saved search named "${body.name}"`, 'saved_search_exists');
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json(view(saved));
    },
  });

  router.route({
    method: 'delete', path: '/v1/saved-searches/:id', permission: 'recording:list',
    handler: async (req, res, ctx) => {
      if (!await deps.savedSearches.delete(ownerOf(ctx.principal), String(req.params.id))) throw new NotFoundError('No such saved search');
      res.status(204).end();
    },
  });
}
