import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Db } from '../db/knex.js';
import { ForbiddenError } from '../errors.js';
import { parseInput } from '../lib/validate.js';
import { actorFields, auditActor } from './actor.js';
import { ExportIdleError, pulledWithin, type ExportSlots } from './export-limits.js';
import { logNdjsonLine } from './log-lines.js';
import type { AuditLogRef, AuditLogRegistry } from './logs.js';
import { LOG_EVENT_COLUMNS, rowToLogEvent, type LogEventRow } from './rows.js';
import type { AuditRouteContext } from './routes.js';
import type { AuditLog } from './types.js';

/**
 * `GET /v1/audit-events?follow=true&after=N`: the tenant's log as NDJSON, kept open, sending new
 * events as they commit (for SIEM forwarding). A client resumes after a disconnect by asking for
 * `after` = the last logSeq it received. Within a log, events become visible in logSeq order (an
 * append holds the log's lock until it commits), so following by logSeq never skips one.
 *
 * Resources are bounded: the follower counts as one of its principal's concurrent exports, holds
 * no database connection between reads (each read is one short query of at most BATCH rows), is
 * woken early by appends of this process and otherwise polls, and is cut off like an export when
 * its client stops reading. A disconnect ends the loop and releases everything at once. While
 * no event comes, an empty line every 15 s keeps proxies from closing the stream; it
 * carries nothing, and line-based readers skip it.
 */

export interface FollowDeps {
  /** The export pool. */
  readonly db: Db;
  readonly audit: AuditLog;
  readonly auditLogs: AuditLogRegistry;
  /** Subscribes to this process's appends (log_id); returns the unsubscribe. */
  readonly onAppended: (listener: (logId: number) => void) => () => void;
  readonly slots?: ExportSlots;
  readonly idleTimeoutMs?: number;
  /** How often to look for events written by other replicas. */
  readonly pollMs?: number;
  /** After how long without an event an empty line is sent, so that proxies keep the stream open. */
  readonly keepAliveMs?: number;
  readonly onStreamError?: (err: unknown) => void;
}

const BATCH = 500;
const DEFAULT_POLL_MS = 1_000;
/** Under the idle timeouts of common load balancers and proxies (60 s for AWS ALB and nginx). */
const DEFAULT_KEEP_ALIVE_MS = 15_000;

const followQuery = z.strictObject({
  follow: z.literal('true'),
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  format: z.literal('ndjson').default('ndjson'),
});

/** True when the export request asks to follow; the export route then hands it here. */
export function isFollowRequest(query: unknown): boolean {
  return typeof query === 'object' && query !== null && 'follow' in query;
}

export async function handleAuditFollow(req: Request, res: Response, ctx: AuditRouteContext, deps: FollowDeps): Promise<void> {
  if (!ctx.principal.roles.includes('compliance')) throw new ForbiddenError('Only the compliance role may export the audit log');
  const { after } = parseInput(followQuery, req.query ?? {}, { code: 'invalid_query', what: 'query', prefix: 'Invalid query parameter ' });
  const release = deps.slots?.acquire(`${ctx.principal.tenant}\u0000${ctx.principal.sub}`);
  const stop = new AbortController();
  res.once('close', () => stop.abort());
  try {
    await deps.audit.record({
      tenant: ctx.principal.tenant, ...actorFields(auditActor(ctx)), actorRole: ctx.principal.actingRole ?? 'compliance',
      action: 'audit.exported', outcome: 'allowed', details: { format: 'ndjson', follow: true, after },
    });
    // The event just recorded created the tenant's log if it had none.
    const log = await deps.auditLogs.resolve(ctx.principal.tenant);
    res.status(200);
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Reverse proxies must pass each line on as it comes.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const lines = followLines(deps, log, after, stop.signal);
    const idleMs = deps.idleTimeoutMs;
    const body = idleMs === undefined ? lines : pulledWithin(lines, idleMs, () => res.destroy(new ExportIdleError(idleMs)));
    await pipeline(Readable.from(body, { objectMode: false }), res, { signal: stop.signal }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && code !== 'ABORT_ERR') deps.onStreamError?.(err);
    });
  } finally {
    stop.abort();
    release?.();
  }
}

/** The log's events after `after`, forever, until `signal` aborts. */
export async function* followLines(
  deps: Pick<FollowDeps, 'db' | 'onAppended' | 'pollMs' | 'keepAliveMs'>, log: AuditLogRef, after: number, signal: AbortSignal,
): AsyncGenerator<string> {
  const keepAliveMs = deps.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  let cursor = after;
  let woken = false;
  let lastSent = performance.now();
  const unsubscribe = deps.onAppended((logId) => { if (logId === log.logId) woken = true; });
  try {
    while (!signal.aborted) {
      woken = false;
      const rows = await deps.db('audit_events').select(deps.db.raw(LOG_EVENT_COLUMNS)).where('log_id', log.logId)
        .andWhere('log_seq', '>', cursor).orderBy('audit_events.log_seq').limit(BATCH) as LogEventRow[];
      if (rows.length > 0) {
        const events = rows.map((r) => rowToLogEvent(r, log.origin));
        cursor = events[events.length - 1]!.logSeq;
        lastSent = performance.now();
        yield events.map((e) => logNdjsonLine(e)).join('');
        continue;
      }
      if (performance.now() - lastSent >= keepAliveMs) {
        lastSent = performance.now();
        yield '\n';
      }
      const untilKeepAlive = Math.max(1, keepAliveMs - (performance.now() - lastSent));
      if (!woken) await wakeOrTimeout(deps, log.logId, Math.min(deps.pollMs ?? DEFAULT_POLL_MS, untilKeepAlive), signal);
    }
  } finally {
    unsubscribe();
  }
}

/** Resolves on this process's next append to the log, after `ms`, or on abort, whichever is first. */
function wakeOrTimeout(deps: Pick<FollowDeps, 'onAppended'>, logId: number, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const unsubscribe = deps.onAppended((appended) => { if (appended === logId) done(); });
    signal.addEventListener('abort', done, { once: true });
  });
}
