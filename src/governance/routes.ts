import { z } from 'zod';
import { auditActor } from '../audit/actor.js';
import { BadRequestError } from '../errors.js';
import type { SecureRouter } from '../http/secure-router.js';
import { rotateMasterKey, setTenantKmsKey, type RotationDeps } from '../keys/rotation.js';
import { registerPolicyRoutes, type PolicyRouteDeps } from '../retention/policy-routes.js';
import { parseBody, parseQuery } from '../lib/validate.js';
import { eraseBySubject, eraseRecording } from './erasure.js';
import { filterSchema, rejectFormerFilterNames, toRecordingFilter } from '../recordings/filter.js';
import { clearLegalHold, holdByFilter, releaseCase, setLegalHold } from './legal-hold.js';
import { listHeld, listMatters } from './hold-list.js';
import type { GovernanceDeps } from './types.js';

/**
 * Governance over HTTP: retention policies and tenant settings (admin), legal holds and erasure
 * (compliance), master key rotation (admin). Every change is audited in the transaction that
 * makes it.
 */
export type GovernanceRouteDeps = GovernanceDeps & PolicyRouteDeps & Omit<RotationDeps, 'db' | 'audit' | 'tenants'>;

const reason = z.string().trim().min(1, 'reason is required').max(1000);
const caseId = z.string().trim().min(1).max(200).nullable().optional();
const holdBody = z.strictObject({ reason, caseId });
const clearBody = z.strictObject({ reason: reason.optional() });
const bulkHoldBody = z.strictObject({ reason, caseId, filter: filterSchema });
const releaseBody = z.strictObject({ caseId: z.string().trim().min(1).max(200), reason: reason.optional() });
const eraseBody = z.strictObject({ reason: reason.optional() });
const subjectBody = z.strictObject({ phone: z.string().trim().min(3).max(64), reason });
const heldQuery = z.strictObject({
  caseId: z.string().trim().min(1).max(200).optional(),
  withoutCase: z.literal('true').optional(),
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const rotateBody = z.strictObject({ kmsKeyId: z.string().trim().min(1).max(2048).optional() });

export function registerGovernanceRoutes(router: SecureRouter, deps: GovernanceRouteDeps): void {
  registerPolicyRoutes(router, deps);

  router.route({
    method: 'put', path: '/v1/recordings/:id/legal-hold', permission: 'legal-hold:manage', body: holdBody,
    handler: async (req, res, ctx, { body }) => {
      res.json(await setLegalHold(deps, ctx.principal.tenant, String(req.params.id), { reason: body.reason, caseId: body.caseId ?? null }, auditActor(ctx)));
    },
  });

  router.route({
    method: 'delete', path: '/v1/recordings/:id/legal-hold', permission: 'legal-hold:manage', body: clearBody,
    handler: async (req, res, ctx, { body }) => {
      await clearLegalHold(deps, ctx.principal.tenant, String(req.params.id), body.reason ?? null, auditActor(ctx));
      res.status(204).end();
    },
  });

  router.route({
    method: 'post', path: '/v1/legal-holds', permission: 'legal-hold:manage',
    handler: async (req, res, ctx) => {
      rejectFormerFilterNames((req.body as { filter?: unknown } | undefined)?.filter, 'invalid_body', 'filter.');
      const body = parseBody(bulkHoldBody, req.body);
      const filter = toRecordingFilter(body.filter, deps.phones);
      res.json(await holdByFilter(deps, ctx.principal.tenant, filter, { reason: body.reason, caseId: body.caseId ?? null }, auditActor(ctx)));
    },
  });

  router.route({
    method: 'get', path: '/v1/legal-holds', permission: 'legal-hold:manage',
    handler: async (_req, res, ctx) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await listMatters(deps, ctx.principal.tenant));
    },
  });

  router.route({
    method: 'get', path: '/v1/legal-holds/recordings', permission: 'legal-hold:manage',
    handler: async (req, res, ctx) => {
      const q = parseQuery(heldQuery, req.query);
      if (q.withoutCase && q.caseId) throw new BadRequestError('Give caseId or withoutCase, not both', 'invalid_query');
      res.setHeader('Cache-Control', 'no-store');
      res.json(await listHeld(deps, ctx.principal.tenant, { caseId: q.withoutCase ? null : q.caseId, afterId: q.after, limit: q.limit }, auditActor(ctx)));
    },
  });

  router.route({
    method: 'post', path: '/v1/legal-holds/release', permission: 'legal-hold:manage', body: releaseBody,
    handler: async (_req, res, ctx, { body }) => {
      res.json(await releaseCase(deps, ctx.principal.tenant, body.caseId, body.reason ?? null, auditActor(ctx)));
    },
  });

  router.route({
    method: 'delete', path: '/v1/recordings/:id', permission: 'recording:erase',
    handler: async (req, res, ctx) => {
      // DELETE bodies are dropped by some clients and proxies: the reason may come as a query parameter too.
      const query = typeof req.query.reason === 'string' ? { reason: req.query.reason } : {};
      const body = parseBody(eraseBody, req.body && Object.keys(req.body as object).length > 0 ? req.body : query);
      await eraseRecording(deps, ctx.principal.tenant, String(req.params.id), body.reason ?? null, auditActor(ctx));
      res.status(204).end();
    },
  });

  router.route({
    method: 'post', path: '/v1/erasures', permission: 'recording:erase', body: subjectBody,
    handler: async (_req, res, ctx, { body }) => {
      if (!/\d{3}/.test(body.phone)) throw new BadRequestError('phone must be a phone number', 'invalid_phone');
      res.json(await eraseBySubject(deps, ctx.principal.tenant, body.phone, body.reason, auditActor(ctx)));
    },
  });

  router.route({
    method: 'post', path: '/v1/keys/rotate', permission: 'keys:manage', body: rotateBody,
    handler: async (_req, res, ctx, { body }) => {
      const actor = auditActor(ctx);
      if (body.kmsKeyId) {
        const r = await setTenantKmsKey(deps, ctx.principal.tenant, body.kmsKeyId, actor);
        res.json({ tenant: ctx.principal.tenant, kmsKeyId: r.kmsKeyId, previous: r.previous, rewrapNeeded: true });
        return;
      }
      const r = await rotateMasterKey(deps, actor, ctx.principal.tenant);
      res.json({ keyRef: r.keyRef, previous: r.previous, rewrapNeeded: true });
    },
  });
}
