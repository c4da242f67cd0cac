import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Db } from '../db/knex.js';
import type { Logger } from '../http/logger.js';
import type { SecureRouter } from '../http/secure-router.js';
import { BadRequestError, DependencyError, ForbiddenError } from '../errors.js';
import { parseInput } from '../lib/validate.js';
import { actorFields, auditActor } from './actor.js';
import type { Knex } from 'knex';
import type { AuditExportFilters, AuditExportFormat } from './export.js';
import { CheckpointConflictError, type AuditCheckpoints } from './checkpoints.js';
import { LogIntegrityError } from './log-check.js';
import { logExportChunks, planLogExport, type LogExportPlan } from './log-export.js';
import { ExportIdleError, pulledWithin, type AuditExportDeps, type ExportSlots } from './export-limits.js';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, type AuditLog } from './types.js';
import { handleAuditFollow, isFollowRequest, type FollowDeps } from './follow.js';
import type { AuditLogRegistry } from './logs.js';

export interface AuditRouteContext {
  readonly principal: { readonly sub: string; readonly tenant: string; readonly roles: readonly string[]; readonly actingRole?: string };
  readonly requestId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface AuditRouteDeps {
  /** The pool exports read through (src/deps.ts gives them their own). */
  readonly db: Db;
  readonly audit: AuditLog;
  /** Concurrent exports per principal; unlimited without. */
  readonly slots?: ExportSlots;
  /** Cut the response off when the client has not taken the next chunk for this long. */
  readonly idleTimeoutMs?: number;
  /** Failures after the first byte was sent: the response is cut off, so the client sees an error. */
  readonly onStreamError?: (err: unknown) => void;
  /** The main pool: log heads and subtrees, read beside the export's cursors. */
  readonly mainDb: Knex;
  readonly logs: Pick<AuditLogRegistry, 'find'>;
  readonly checkpoints: Pick<AuditCheckpoints, 'checkpoint'>;
}

const timestamp = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((v) => new Date(v));
const text = z.string().min(1).max(512);
const querySchema = z.strictObject({
  format: z.enum(['ndjson', 'csv']).default('ndjson'),
  after: timestamp.optional(),
  before: timestamp.optional(),
  recordingId: text.optional(),
  actor: text.optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  afterSeq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  beforeSeq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

export interface ParsedExportQuery { readonly filters: AuditExportFilters; readonly format: AuditExportFormat }

/** The export's time bounds were once named like the phone-number filters of search. */
const RENAMED: Readonly<Record<string, string>> = { from: 'after', to: 'before' };

export function parseExportQuery(query: unknown, tenant: string): ParsedExportQuery {
  for (const [old, now] of Object.entries(RENAMED)) {
    if (query && typeof query === 'object' && old in query) {
      throw new BadRequestError(`Query parameter ${old} was renamed: use ${now} (time bounds on the event's at)`, 'invalid_query');
    }
  }
  const { format, ...filters } = parseInput(querySchema, query ?? {}, { code: 'invalid_query', what: 'query', prefix: 'Invalid query parameter ' });
  if (filters.after && filters.before && filters.after.getTime() > filters.before.getTime()) {
    throw new BadRequestError('Query parameter after must not be later than before', 'invalid_query');
  }
  for (const bound of [filters.after, filters.before]) {
    if (bound && (bound.getUTCFullYear() < 1 || bound.getUTCFullYear() > 9999)) throw new BadRequestError('Dates must lie in years 0001-9999', 'invalid_query');
  }
  return { format, filters: { tenant, ...filters } };
}

const CONTENT_TYPES: Record<AuditExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/**
 * GET /v1/audit-events (compliance). The 'audit.exported' event is durable before the query
 * runs, and nothing is sent until the query has produced its first chunk: a failure up to that
 * point is an ordinary error response (503 when the audit log or the database is down). A
 * principal over its concurrent exports gets 429 before anything is audited or queried.
 */
export async function handleAuditExport(req: Request, res: Response, ctx: AuditRouteContext, deps: AuditRouteDeps): Promise<void> {
  if (!ctx.principal.roles.includes('compliance')) throw new ForbiddenError('Only the compliance role may export the audit log');
  const { filters, format } = parseExportQuery(req.query, ctx.principal.tenant);
  const release = deps.slots?.acquire(`${ctx.principal.tenant}\u0000${ctx.principal.sub}`);
  try {
    await streamExport(res, ctx, deps, { filters, format });
  } finally {
    release?.();
  }
}

async function streamExport(res: Response, ctx: AuditRouteContext, deps: AuditRouteDeps, { filters, format }: ParsedExportQuery): Promise<void> {
  await deps.audit.record({
    tenant: ctx.principal.tenant, ...actorFields(auditActor(ctx)), actorRole: ctx.principal.actingRole ?? 'compliance',
    action: 'audit.exported', outcome: 'allowed', recordingId: filters.recordingId ?? null,
    details: {
      format, after: filters.after?.toISOString(), before: filters.before?.toISOString(), recordingId: filters.recordingId,
      actor: filters.actor, action: filters.action, outcome: filters.outcome,
      afterSeq: filters.afterSeq, beforeSeq: filters.beforeSeq, limit: filters.limit, order: filters.order,
    },
  });
  let plan: LogExportPlan;
  let chunks: AsyncGenerator<string>;
  let first: IteratorResult<string>;
  try {
    plan = await planLogExport(deps, ctx.principal.tenant);
    chunks = logExportChunks(deps, filters, format, plan);
    first = await chunks.next();
  } catch (err) {
    // A log that no longer matches its signed checkpoints is an alarm (500, logged), not an outage to retry.
    if (err instanceof CheckpointConflictError || err instanceof LogIntegrityError) throw err;
    throw new DependencyError('database', 'The audit log could not be read', err);
  }
  res.status(200);
  // CSV stays plain: its checkpoint is served apart, at the size the export covers.
  if (format === 'csv' && plan.checkpoint) res.setHeader('Link', `</v1/audit-checkpoints?size=${plan.size}>; rel="checkpoint"`);
  res.setHeader('Content-Type', CONTENT_TYPES[format]);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Disposition', `attachment; filename="audit-events.${format}"`);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const idleMs = deps.idleTimeoutMs;
  const body = idleMs === undefined ? resume(first, chunks) : pulledWithin(resume(first, chunks), idleMs, () => res.destroy(new ExportIdleError(idleMs)));
  try {
    await pipeline(Readable.from(body, { objectMode: false }), res);
  } catch (err) {
    // Headers are gone: the cut-off response is the only signal left, pipeline has made it.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') deps.onStreamError?.(err);
  }
}

async function* resume(first: IteratorResult<string>, rest: AsyncGenerator<string>): AsyncGenerator<string> {
  try {
    if (first.done) return;
    yield first.value;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}

export interface AuditRoutesDeps {
  readonly audit: AuditLog;
  readonly auditExport: AuditExportDeps;
  readonly logger: Logger;
  /** The main pool: log heads and subtrees for exports. */
  readonly db: Db;
  /** Follow mode (src/audit/follow.ts) and exports: the tenant's log and this process's appends to it. */
  readonly auditLogs: AuditLogRegistry;
  readonly onAuditAppended: FollowDeps['onAppended'];
  readonly checkpoints: Pick<AuditCheckpoints, 'checkpoint'>;
}

/** `GET /v1/audit-events` for compliance officers (permission audit:export); `follow=true` keeps it open. */
export function registerAuditRoutes(router: SecureRouter, deps: AuditRoutesDeps): void {
  const { db, slots, idleTimeoutMs } = deps.auditExport;
  const { checkpoints } = deps;
  router.route({
    method: 'get', path: '/v1/audit-events', permission: 'audit:export',
    handler: (req, res, ctx) => isFollowRequest(req.query) ? handleAuditFollow(req, res, ctx, {
      db, audit: deps.audit, auditLogs: deps.auditLogs, onAppended: deps.onAuditAppended, slots, idleTimeoutMs,
      onStreamError: (err) => deps.logger.warn({ err, requestId: ctx.requestId }, 'audit follow stream ended with an error'),
    }) : handleAuditExport(req, res, ctx, {
      db, audit: deps.audit, slots, idleTimeoutMs, mainDb: deps.db, logs: deps.auditLogs, checkpoints,
      onStreamError: (err) => {
        if (err instanceof ExportIdleError) deps.logger.warn({ err, requestId: ctx.requestId }, 'audit export cut off: its client stopped reading');
        else deps.logger.error({ err, requestId: ctx.requestId }, 'audit export failed mid-stream');
      },
    }),
  });
}
