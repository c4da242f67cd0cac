import { z } from 'zod';
import { actorFields, auditActor } from '../audit/actor.js';
import type { Config } from '../config/config.js';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { Metrics } from '../http/metrics.js';
import type { SecureRouter } from '../http/secure-router.js';
import { openPlayback } from '../media/playback.js';
import { sendPlayback } from '../media/respond.js';
import { approveRequest, refuseRequest, requestRedaction } from './requests.js';
import { redact, type RedactionDeps } from './service.js';
import { REDACTION_CATEGORIES, REDACTION_FILLS, redactionView, requestView } from './types.js';

/**
 * Redaction over HTTP (docs/redaction.md). Without four-eyes a compliance user redacts at once
 * (201, the receipt). With REDACTION_APPROVAL=required the same POST is a request (202) that
 * another compliance user approves (201, the receipt) or refuses.
 */
export interface RedactionRouteDeps extends RedactionDeps {
  readonly config: { readonly redaction: Config['redaction']; readonly recordings: Pick<Config['recordings'], 'maxBytes'> };
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'bytesOut'>;
}

/** A day of audio, in milliseconds: far beyond any call, small enough to keep the arithmetic exact. */
const MAX_MS = 24 * 3600 * 1000;

const range = z.strictObject({
  startMs: z.number().int().min(0).max(MAX_MS),
  endMs: z.number().int().min(1).max(MAX_MS),
  channel: z.number().int().min(0).max(63).optional(),
}).refine((r) => r.endMs > r.startMs, { message: 'endMs must be greater than startMs', path: ['endMs'] });

const orderBody = z.strictObject({
  ranges: z.array(range).min(1, 'at least one range is required').max(200),
  fill: z.enum(REDACTION_FILLS),
  reason: z.string().trim().min(1, 'reason is required').max(1000),
  category: z.enum(REDACTION_CATEGORIES),
});
const decisionBody = z.strictObject({ note: z.string().trim().min(1).max(1000).optional() });
const listQuery = z.strictObject({ status: z.enum(['pending', 'approved', 'refused']).optional() });
const settingsBody = z.strictObject({ keepPiiOriginal: z.boolean() });

export function registerRedactionRoutes(router: SecureRouter, deps: RedactionRouteDeps): void {
  const settings = { maxBytes: deps.config.recordings.maxBytes };
  const fourEyes = deps.config.redaction.approval === 'required';

  router.route({
    method: 'post', path: '/v1/recordings/:id/redactions', permission: fourEyes ? 'redaction:request' : 'recording:redact', body: orderBody,
    handler: async (req, res, ctx, { body }) => {
      const actor = auditActor(ctx);
      const id = String(req.params.id);
      if (fourEyes) {
        const request = await requestRedaction(deps, ctx.principal.tenant, id, body, actor);
        res.status(202).location(`/v1/redaction-requests/${request.id}`).json(requestView(request));
        return;
      }
      const redaction = await redact(deps, settings, ctx.principal.tenant, id, body, { actor, requestedBy: actor.sub, approval: null });
      res.status(201).location(`/v1/recordings/${id}/redactions/${redaction.id}`).json(redactionView(redaction));
    },
  });

  router.route({
    method: 'get', path: '/v1/recordings/:id/redactions', permission: 'recording:redact',
    handler: async (req, res, ctx) => {
      const recording = await deps.recordings.findActive(ctx.principal.tenant, String(req.params.id));
      if (!recording) throw new NotFoundError('No such recording');
      res.setHeader('Cache-Control', 'no-store');
      res.json({ items: (await deps.redactions.listFor(ctx.principal.tenant, recording.id)).map(redactionView) });
    },
  });

  router.route({
    method: 'get', path: '/v1/recordings/:id/redactions/:redactionId/original', permission: 'redaction:read-original',
    handler: async (req, res, ctx) => {
      const tenant = ctx.principal.tenant;
      const recording = await deps.recordings.findActive(tenant, String(req.params.id));
      const original = recording ? await deps.redactions.findOriginal(tenant, recording.id, String(req.params.redactionId)) : null;
      if (!recording || !original) throw new NotFoundError('No sealed original here');
      const sealed = { ...recording, ...original, id: recording.id };
      const body = await openPlayback(deps, sealed);
      try {
        await deps.audit.record({
          tenant, ...actorFields(auditActor(ctx)), action: 'redaction.original_read', outcome: 'allowed', recordingId: recording.id,
          details: { redactionId: original.redactionId, version: original.version, sha256: original.sha256, sizeBytes: original.sizeBytes },
        });
      } catch (err) {
        body.destroy();
        throw err;
      }
      res.status(200).setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Type', original.contentType);
      res.setHeader('Content-Length', String(original.sizeBytes));
      await sendPlayback(deps, body, res);
    },
  });

  router.route({
    method: 'get', path: '/v1/redaction-requests', permission: 'redaction:decide', query: listQuery,
    handler: async (_req, res, ctx, { query }) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ items: (await deps.redactions.listRequests(ctx.principal.tenant, query.status ?? null)).map(requestView) });
    },
  });

  router.route({
    method: 'post', path: '/v1/redaction-requests/:requestId/approve', permission: 'redaction:decide', body: decisionBody,
    handler: async (req, res, ctx, { body }) => {
      const redaction = await approveRequest(deps, settings, ctx.principal.tenant, String(req.params.requestId), body.note ?? null, auditActor(ctx));
      res.status(201).location(`/v1/recordings/${redaction.recordingId}/redactions/${redaction.id}`).json(redactionView(redaction));
    },
  });

  router.route({
    method: 'post', path: '/v1/redaction-requests/:requestId/refuse', permission: 'redaction:decide', body: decisionBody,
    handler: async (req, res, ctx, { body }) => {
      res.json(requestView(await refuseRequest(deps, ctx.principal.tenant, String(req.params.requestId), body.note ?? null, auditActor(ctx))));
    },
  });

  router.route({
    method: 'get', path: '/v1/redaction-settings', permission: 'tenant:manage',
    handler: async (_req, res, ctx) => {
      res.json({ keepPiiOriginal: await deps.redactions.keepsPiiOriginal(ctx.principal.tenant) });
    },
  });

  router.route({
    method: 'put', path: '/v1/redaction-settings', permission: 'tenant:manage', body: settingsBody,
    handler: async (_req, res, ctx, { body }) => {
      const tenant = ctx.principal.tenant;
      await deps.db.transaction(async (trx) => {
        await deps.redactions.setKeepPiiOriginal(tenant, body.keepPiiOriginal, ctx.principal.sub, trx);
        await deps.audit.record({
          tenant, ...actorFields(auditActor(ctx)), action: 'redaction.settings_updated', outcome: 'allowed', details: { keepPiiOriginal: body.keepPiiOriginal },
        }, trx);
      });
      res.json({ keepPiiOriginal: body.keepPiiOriginal });
    },
  });
}
