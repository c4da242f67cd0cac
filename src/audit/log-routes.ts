import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Db } from '../db/knex.js';
import type { SecureRouter } from '../http/secure-router.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { actorFields, auditActor } from './actor.js';
import type { AuditCheckpoints, StoredCheckpoint } from './checkpoints.js';
import { logSize } from './log-check.js';
import { logNdjsonLine, proofJson } from './log-lines.js';
import type { AuditLogRef, AuditLogRegistry } from './logs.js';
import { consistencyProof, inclusionProof, type SubtreeRef, type SubtreeStore } from './merkle.js';
import { LOG_EVENT_COLUMNS, rowToLogEvent, type LogEventRow } from './rows.js';
import { batchInclusionProofs, MissingSubtreeError, PgSubtreeStore } from './subtrees.js';
import type { AuditLog } from './types.js';

/**
 * What a compliance officer (permission audit:export) reads of the tenant's own log besides the
 * export: its signed checkpoints, inclusion and consistency proofs, and the access history of one
 * recording. Everything is scoped to the caller's tenant: another tenant's log does not exist here
 * (404). Proofs are served from the stored subtrees in one query each (docs/audit.md).
 */
export interface AuditLogRouteDeps {
  readonly db: Db;
  readonly audit: AuditLog;
  readonly auditLogs: AuditLogRegistry;
  readonly checkpoints: Pick<AuditCheckpoints, 'latest' | 'atSize' | 'checkpoint'>;
}

const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const sizeQuery = z.strictObject({ size: count.min(1) });
const consistencyQuery = z.strictObject({ from: count, to: count.min(1) });
const proofQuery = z.strictObject({ size: count.min(1).optional() });
const historyQuery = z.strictObject({ after: count.default(0), limit: z.coerce.number().int().min(1).max(10_000).default(1_000) });

async function tenantLog(deps: AuditLogRouteDeps, tenant: string): Promise<AuditLogRef> {
  const log = await deps.auditLogs.find(tenant);
  if (!log) throw new NotFoundError('This tenant has no audit log yet');
  return log;
}

function checkpointJson(log: AuditLogRef, c: StoredCheckpoint): Record<string, unknown> {
  return { log: log.origin, size: c.size, rootHash: c.rootHash.toString('base64'), signedAt: c.signedAt.toISOString(), checkpoint: c.checkpoint };
}

/** JSON by default; the signed note itself for `Accept: text/plain` (what signed-note tools read). */
function sendCheckpoint(req: Request, res: Response, log: AuditLogRef, c: StoredCheckpoint): void {
  res.setHeader('Cache-Control', 'no-store');
  res.vary('Accept');
  if (req.accepts(['application/json', 'text/plain']) === 'text/plain') res.type('text/plain; charset=utf-8').send(c.checkpoint);
  else res.json(checkpointJson(log, c));
}

const hex = (hashes: readonly Buffer[]): string[] => hashes.map((h) => h.toString('hex'));

/** A store that also fetches leaf `index` in the same query as the proof's subtrees. */
class WithLeaf implements SubtreeStore {
  leaf: Buffer | undefined;
  constructor(private readonly inner: SubtreeStore, private readonly index: number) {}
  async getSubtrees(refs: readonly SubtreeRef[]): Promise<readonly Buffer[]> {
    const [leaf, ...rest] = await this.inner.getSubtrees([{ level: 0, index: this.index }, ...refs]);
    this.leaf = leaf;
    return rest;
  }
}

export function registerAuditLogRoutes(router: SecureRouter, deps: AuditLogRouteDeps): void {
  router.route({
    method: 'get', path: '/v1/audit-checkpoints/latest', permission: 'audit:export',
    handler: async (req, res, ctx) => {
      const log = await tenantLog(deps, ctx.principal.tenant);
      const latest = await deps.checkpoints.latest(log.logId);
      if (!latest) throw new NotFoundError('No checkpoint of this log has been signed yet');
      sendCheckpoint(req, res, log, latest);
    },
  });

  router.route({
    method: 'get', path: '/v1/audit-checkpoints', permission: 'audit:export', query: sizeQuery,
    handler: async (req, res, ctx, { query }) => {
      const log = await tenantLog(deps, ctx.principal.tenant);
      const found = await deps.checkpoints.atSize(log.logId, query.size);
      if (!found) throw new NotFoundError(`No checkpoint of size ${query.size} was signed`);
      sendCheckpoint(req, res, log, found);
    },
  });

  router.route({
    method: 'get', path: '/v1/audit-checkpoints/consistency', permission: 'audit:export', query: consistencyQuery,
    handler: async (_req, res, ctx, { query: { from, to } }) => {
      if (from > to) throw new BadRequestError('Query parameter from must not exceed to', 'invalid_query');
      const log = await tenantLog(deps, ctx.principal.tenant);
      const size = await logSize(deps.db, log.logId);
      if (to > size) throw new NotFoundError(`The log has ${size} events: there is no tree of size ${to}`);
      const proof = await consistencyProof(new PgSubtreeStore(deps.db, log.logId), from, to);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ log: log.origin, from, to, hashes: hex(proof) });
    },
  });

  router.route({
    method: 'get', path: '/v1/audit-events/:logSeq/proof', permission: 'audit:export', query: proofQuery,
    handler: async (req, res, ctx, { query }) => {
      const logSeq = Number(req.params.logSeq);
      if (!/^[1-9]\d{0,15}$/.test(String(req.params.logSeq)) || !Number.isSafeInteger(logSeq)) throw new NotFoundError('No such event');
      const log = await tenantLog(deps, ctx.principal.tenant);
      const checkpoint = query.size === undefined ? await deps.checkpoints.latest(log.logId) : null;
      const size = query.size ?? checkpoint?.size;
      if (size === undefined) throw new NotFoundError('No checkpoint of this log has been signed yet: name a tree size');
      if (logSeq > size) throw new NotFoundError(`Event ${logSeq} is not in the tree of size ${size}`);
      const store = new WithLeaf(new PgSubtreeStore(deps.db, log.logId), logSeq - 1);
      let hashes: Buffer[];
      try {
        hashes = await inclusionProof(store, logSeq - 1, size);
      } catch (err) {
        if (err instanceof MissingSubtreeError) throw new NotFoundError(`The log has no tree of size ${size}`);
        throw err;
      }
      res.setHeader('Cache-Control', 'no-store');
      res.json({ log: log.origin, logSeq, treeSize: size, leafHash: store.leaf?.toString('hex'), hashes: hex(hashes) });
    },
  });

  router.route({
    method: 'get', path: '/v1/recordings/:id/access-history', permission: 'audit:export', query: historyQuery,
    handler: async (req, res, ctx, { query }) => {
      const recordingId = String(req.params.id);
      const log = await tenantLog(deps, ctx.principal.tenant);
      const any = await deps.db('audit_events').where({ log_id: log.logId, recording_id: recordingId }).first(deps.db.raw('1 AS found'));
      if (!any) throw new NotFoundError('No audit events about this recording in this tenant\'s log');
      await deps.audit.record({
        tenant: ctx.principal.tenant, ...actorFields(auditActor(ctx)), actorRole: ctx.principal.actingRole ?? 'compliance',
        action: 'audit.exported', outcome: 'allowed', recordingId, details: { view: 'access-history', after: query.after, limit: query.limit },
      });
      // Signed now, so that it covers every event shown, the read just recorded included.
      const checkpoint = await deps.checkpoints.checkpoint(log, undefined, 'incremental');
      if (!checkpoint) throw new Error('a log with events has no checkpoint');
      const rows = await deps.db('audit_events').select(deps.db.raw(LOG_EVENT_COLUMNS))
        .where({ log_id: log.logId, recording_id: recordingId }).andWhere('log_seq', '>', query.after).andWhere('log_seq', '<=', checkpoint.size)
        .orderBy('audit_events.log_seq').limit(query.limit + 1) as LogEventRow[];
      const events = rows.slice(0, query.limit).map((r) => rowToLogEvent(r, log.origin));
      const proofs = await batchInclusionProofs(new PgSubtreeStore(deps.db, log.logId), events.map((e) => e.logSeq - 1), checkpoint.size);
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        recordingId, log: log.origin, checkpoint: checkpointJson(log, checkpoint),
        events: events.map((e, i) => JSON.parse(logNdjsonLine(e, proofJson(checkpoint.size, proofs[i]!))) as unknown),
        next: rows.length > query.limit ? events[events.length - 1]!.logSeq : null,
      });
    },
  });
}
