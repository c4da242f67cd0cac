import { z } from 'zod';
import { MASK_FILLS } from '../audio/dtmf-fill.js';
import { actorFields, auditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import { parseIsoDuration } from '../config/duration.js';
import type { Db } from '../db/knex.js';
import { BadRequestError } from '../errors.js';
import { parseBody, parseQuery } from '../lib/validate.js';
import type { SecureRouter } from '../http/secure-router.js';
import { POLICY_NAME } from '../recordings/metadata.js';
import { DTMF_POLICIES, type TenantSettings, type TenantStore } from '../tenants/store.js';
import type { KeyProvider } from '../keys/types.js';
import { SYSTEM_DEFAULT_POLICY, type PolicyStore, type RetentionPolicy } from './policy-store.js';
import { simulateRetention } from './simulate.js';

/**
 * Admin endpoints for retention: policies (PUT/GET /v1/retention-policies) and the tenant's
 * default policy (PUT/GET /v1/tenant-settings). A change applies to recordings uploaded after
 * it; recordings already stored keep the retainUntil they were given at upload.
 */
export interface PolicyRouteDeps {
  readonly db: Db;
  readonly policies: PolicyStore;
  readonly tenants: Pick<TenantStore, 'get' | 'update'>;
  readonly audit: Pick<AuditLog, 'record'>;
  /** Which key provider wraps data keys: a tenant KMS key needs aws-kms. */
  readonly keys: Pick<KeyProvider, 'kind'>;
}

const policyBody = z.strictObject({
  retain: z.string().max(64),
  description: z.string().trim().max(500).nullable().optional(),
});

const settingsBody = z.strictObject({
  defaultPolicy: z.string().regex(POLICY_NAME, 'policy names are lowercase letters, digits, _ and -').nullable().optional(),
  /** Optional, like defaultPolicy: a setting left out of a PUT stays as it is. */
  dtmf: z.enum(DTMF_POLICIES).optional(),
  dtmfFill: z.enum(MASK_FILLS).optional(),
}).refine((b) => b.defaultPolicy !== undefined || b.dtmf !== undefined || b.dtmfFill !== undefined, 'name at least one of defaultPolicy, dtmf, dtmfFill');

const dryRunQuery = z.strictObject({
  until: z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((v) => new Date(v))
    .refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, 'must lie in years 0001-9999'),
  policy: z.string().regex(POLICY_NAME, 'policy names are lowercase letters, digits, _ and -').optional(),
});

function settingsView(s: TenantSettings, keys: Pick<KeyProvider, 'kind'>) {
  return { tenant: s.id, defaultPolicy: s.defaultPolicy ?? SYSTEM_DEFAULT_POLICY, kmsKeyId: s.kmsKeyId, keyProvider: keys.kind, dtmf: s.dtmf, dtmfFill: s.dtmfFill };
}

function view(p: RetentionPolicy, defaultPolicy: string | null) {
  return {
    name: p.name, retain: p.retain, description: p.description, isDefault: p.name === (defaultPolicy ?? SYSTEM_DEFAULT_POLICY),
    updatedBy: p.updatedBy, updatedAt: p.updatedAt.toISOString(),
  };
}

export function registerPolicyRoutes(router: SecureRouter, deps: PolicyRouteDeps): void {
  router.route({
    method: 'get', path: '/v1/retention-policies', permission: 'policy:manage',
    handler: async (_req, res, ctx) => {
      const tenant = ctx.principal.tenant;
      const [items, settings] = await Promise.all([deps.policies.list(tenant), deps.tenants.get(tenant)]);
      res.json({
        items: items.map((p) => view(p, settings.defaultPolicy)),
        defaultPolicy: settings.defaultPolicy ?? SYSTEM_DEFAULT_POLICY,
        systemDefault: { name: SYSTEM_DEFAULT_POLICY, retain: deps.policies.systemDefaultRetain },
      });
    },
  });

  router.route({
    method: 'put', path: '/v1/retention-policies/:name', permission: 'policy:manage',
    handler: async (req, res, ctx) => {
      const name = String(req.params.name);
      if (!POLICY_NAME.test(name)) throw new BadRequestError('Policy names are 1-64 lowercase letters, digits, _ and -, starting with a letter or digit', 'invalid_policy_name');
      const body = parseBody(policyBody, req.body);
      if (!parseIsoDuration(body.retain)) {
        throw new BadRequestError('retain must be an ISO-8601 duration such as P90D, P6Y or PT2S (at most a century)', 'invalid_retain');
      }
      const tenant = ctx.principal.tenant;
      const { policy, created, settings } = await deps.db.transaction(async (trx) => {
        const result = await deps.policies.upsert({ tenant, name, retain: body.retain, description: body.description ?? null, updatedBy: ctx.principal.sub }, trx);
        await deps.audit.record({
          tenant, ...actorFields(auditActor(ctx)), action: 'policy.updated', outcome: 'allowed',
          details: { policy: name, retain: body.retain, description: body.description ?? null, created: result.created, previousRetain: result.previous?.retain ?? null },
        }, trx);
        return { ...result, settings: await deps.tenants.get(tenant, trx) };
      });
      res.status(created ? 201 : 200).location(`/v1/retention-policies/${name}`).json(view(policy, settings.defaultPolicy));
    },
  });

  router.route({
    method: 'get', path: '/v1/retention-dry-run', permission: 'policy:manage',
    handler: async (req, res, ctx) => {
      const q = parseQuery(dryRunQuery, req.query);
      res.setHeader('Cache-Control', 'no-store');
      res.json(await simulateRetention(deps.db, ctx.principal.tenant, q.until, q.policy));
    },
  });

  router.route({
    method: 'get', path: '/v1/tenant-settings', permission: 'tenant:manage',
    handler: async (_req, res, ctx) => {
      res.json(settingsView(await deps.tenants.get(ctx.principal.tenant), deps.keys));
    },
  });

  router.route({
    method: 'put', path: '/v1/tenant-settings', permission: 'tenant:manage', body: settingsBody,
    handler: async (_req, res, ctx, { body }) => {
      const tenant = ctx.principal.tenant;
      const s = await deps.db.transaction(async (trx) => {
        if (body.defaultPolicy != null && !(await deps.policies.exists(tenant, body.defaultPolicy, trx))) {
          throw new BadRequestError(`Retention policy "${body.defaultPolicy}" does not exist for this tenant; create it first`, 'unknown_policy');
        }
        const before = await deps.tenants.get(tenant, trx);
        const after = await deps.tenants.update(tenant, { defaultPolicy: body.defaultPolicy, dtmf: body.dtmf, dtmfFill: body.dtmfFill }, trx);
        await deps.audit.record({
          tenant, ...actorFields(auditActor(ctx)), action: 'policy.updated', outcome: 'allowed',
          details: {
            ...(body.defaultPolicy !== undefined ? { defaultPolicy: body.defaultPolicy, previousDefaultPolicy: before.defaultPolicy } : {}),
            ...(body.dtmf !== undefined ? { dtmf: body.dtmf, previousDtmf: before.dtmf } : {}),
            ...(body.dtmfFill !== undefined ? { dtmfFill: body.dtmfFill, previousDtmfFill: before.dtmfFill } : {}),
          },
        }, trx);
        return after;
      });
      res.json(settingsView(s, deps.keys));
    },
  });
}
