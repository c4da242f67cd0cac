import type { AuditLog } from '../audit/types.js';
import { agentScope, can } from '../auth/permissions.js';
import { NotFoundError } from '../errors.js';
import { actorFields, auditActor } from '../audit/actor.js';
import type { SecureRouter } from '../http/secure-router.js';
import type { PhoneHasher } from './phone.js';
import { auditFilters, parseSearchQuery, type CursorCodec } from './search.js';
import type { RecordingStore } from './store.js';
import { toReceipt, toView, type RecordingView } from './types.js';

/**
 * Metadata reads: search and single recording. Tenancy and the agent scope are applied by the
 * store on every query; each read is audited (and durable) before the answer leaves.
 */
export interface ReadRouteDeps {
  readonly recordings: Pick<RecordingStore, 'search' | 'findActive'>;
  readonly phones: Pick<PhoneHasher, 'hash'>;
  readonly audit: Pick<AuditLog, 'record'>;
  /** Signs and checks the search cursor (built in deps.ts). */
  readonly searchCursors: Pick<CursorCodec, 'encode' | 'decode'>;
}

export interface SearchResponse { readonly items: RecordingView[]; readonly nextCursor: string | null }

export function registerReadRoutes(router: SecureRouter, deps: ReadRouteDeps): void {
  const cursors = deps.searchCursors;

  router.route({
    method: 'get', path: '/v1/recordings', permission: 'recording:list',
    handler: async (req, res, ctx) => {
      const query = parseSearchQuery(req.query as Record<string, unknown>, deps.phones);
      const scope = { tenant: ctx.principal.tenant, agentScope: agentScope(ctx.principal, 'recording:list'), filters: query.filters };
      const after = query.cursor === null ? undefined : cursors.decode(query.cursor, scope);
      const page = await deps.recordings.search({ ...scope, ...query.filters, after, limit: query.limit });
      await deps.audit.record({
        tenant: ctx.principal.tenant, ...actorFields(auditActor(ctx)), action: 'recording.listed', outcome: 'allowed',
        details: { filters: auditFilters(query.filters), count: page.items.length, limit: query.limit, page: after ? 'next' : 'first' },
      });
      const body: SearchResponse = { items: page.items.map(toView), nextCursor: page.next ? cursors.encode(page.next, scope) : null };
      res.setHeader('Cache-Control', 'no-store');
      res.json(body);
    },
  });

  // pbx principals hold only recording:read-receipt: they get the receipt of their own uploads.
  router.route({
    method: 'get', path: '/v1/recordings/:id', permission: ['recording:view', 'recording:read-receipt'],
    handler: async (req, res, ctx) => {
      const p = ctx.principal;
      const id = String(req.params.id);
      const full = can(p.roles, 'recording:view');
      const recording = full
        ? await deps.recordings.findActive(p.tenant, id, agentScope(p, 'recording:view'))
        : await deps.recordings.findActive(p.tenant, id);
      if (!recording || (!full && recording.uploadedBy !== p.sub)) throw new NotFoundError('No such recording');
      await deps.audit.record({
        tenant: ctx.principal.tenant, ...actorFields(auditActor(ctx)), action: 'recording.viewed', outcome: 'allowed', recordingId: recording.id,
        details: { view: full ? 'metadata' : 'receipt' },
      });
      res.setHeader('Cache-Control', 'no-store');
      res.json(full ? toView(recording) : toReceipt(recording));
    },
  });
}
