import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import type { Db } from '../db/knex.js';
import { heldRecordings, holdMatters } from '../recordings/hold-queries.js';

/**
 * Reading the tenant's legal holds, grouped by matter (case id), for compliance. Listing held
 * recordings shows their callIds, so each page is audited as recording.listed, like a search.
 */
export interface HoldListDeps { readonly db: Db; readonly audit: Pick<AuditLog, 'record'> }

export interface MatterView { readonly caseId: string | null; readonly count: number; readonly firstSetAt: string | null; readonly lastSetAt: string | null }

export async function listMatters(deps: HoldListDeps, tenant: string): Promise<{ matters: MatterView[] }> {
  const matters = await holdMatters(deps.db, tenant);
  return {
    matters: matters.map((m) => ({ caseId: m.caseId, count: m.count, firstSetAt: m.firstSetAt?.toISOString() ?? null, lastSetAt: m.lastSetAt?.toISOString() ?? null })),
  };
}

export interface HeldView {
  readonly recordingId: string; readonly callId: string; readonly startedAt: string | null; readonly reason: string | null;
  readonly caseId: string | null; readonly setBy: string | null; readonly setAt: string | null;
}

export interface HeldPage { readonly items: HeldView[]; readonly nextAfter: string | null }

export async function listHeld(deps: HoldListDeps, tenant: string, opts: { caseId?: string | null; afterId?: string; limit: number }, actor: AuditActor): Promise<HeldPage> {
  const rows = await heldRecordings(deps.db, tenant, opts);
  await deps.audit.record({
    tenant, ...actorFields(actor), action: 'recording.listed', outcome: 'allowed',
    details: { source: 'legal_holds', caseId: opts.caseId, count: rows.length, limit: opts.limit, page: opts.afterId ? 'next' : 'first' },
  });
  const items = rows.map((r) => ({
    recordingId: r.id, callId: r.callId, startedAt: r.startedAt?.toISOString() ?? null, reason: r.reason, caseId: r.caseId,
    setBy: r.setBy, setAt: r.setAt?.toISOString() ?? null,
  }));
  const last = rows[rows.length - 1];
  return { items, nextAfter: rows.length === opts.limit && last ? last.id : null };
}
