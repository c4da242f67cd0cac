import { z } from 'zod';
import { actorFields, auditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import { consoleMfaGate } from '../auth/mfa-gate.js';
import { agentScope, can, type Principal, type Role } from '../auth/permissions.js';
import type { Db } from '../db/knex.js';
import { ForbiddenError } from '../errors.js';
import type { SecureRouter } from '../http/secure-router.js';
import { issueSchema, sendIssuedLink } from '../links/routes.js';
import type { LinkService } from '../links/service.js';
import type { DownloadGrantStore } from './store.js';

/**
 * Downloading a recording as a file is a permission apart from playback, off by default: an
 * admin names the roles of the tenant that may (`PUT /v1/download-settings`). A download link
 * (`POST /v1/recordings/{id}/downloads`) is issued like a playback link but audited as
 * `download.issued`, and each use of it as `media.downloaded`, so an auditor tells a play from
 * a download without reading details.
 */
export interface DownloadRouteDeps {
  readonly db: Db;
  readonly downloadGrants: Pick<DownloadGrantStore, 'roles' | 'lock' | 'replace'>;
  readonly links: Pick<LinkService, 'issue'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly config: {
    readonly http: { readonly publicUrl?: string };
    readonly links: { readonly maxTtlSeconds: number };
    readonly console: { readonly linkRequiresMfa: boolean };
  };
}

/** The roles that can see recordings at all; only they can be allowed to download them. */
const DOWNLOAD_ROLES = ['agent', 'supervisor', 'compliance'] as const satisfies readonly Role[];

const settingsBody = z.strictObject({
  roles: z.array(z.enum(DOWNLOAD_ROLES)).max(DOWNLOAD_ROLES.length).transform((r) => [...new Set(r)].sort()),
});

/** The caller's role that the tenant allows to download, if any: it becomes the audit actorRole. */
function downloadingRole(principal: Principal, granted: readonly Role[]): Role | undefined {
  return principal.roles.find((r) => granted.includes(r) && can([r], 'recording:view'));
}

export function registerDownloadRoutes(router: SecureRouter, deps: DownloadRouteDeps): void {
  // Readable by whoever may view recordings, so the console shows a download button only when it works.
  router.route({
    method: 'get', path: '/v1/download-settings', permission: ['tenant:manage', 'recording:view'],
    handler: async (_req, res, ctx) => {
      const roles = await deps.downloadGrants.roles(ctx.principal.tenant);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ roles, allowed: downloadingRole(ctx.principal, roles) !== undefined });
    },
  });

  router.route({
    method: 'put', path: '/v1/download-settings', permission: 'tenant:manage', body: settingsBody,
    handler: async (_req, res, ctx, { body }) => {
      const tenant = ctx.principal.tenant;
      await deps.db.transaction(async (trx) => {
        await deps.downloadGrants.lock(tenant, trx);
        const before = await deps.downloadGrants.roles(tenant, trx);
        await deps.downloadGrants.replace(tenant, body.roles, ctx.principal.sub, trx);
        await deps.audit.record({
          tenant, ...actorFields(auditActor(ctx)), action: 'download.settings_updated', outcome: 'allowed',
          details: { before, after: body.roles },
        }, trx);
      });
      res.json({ roles: body.roles, allowed: downloadingRole(ctx.principal, body.roles) !== undefined });
    },
  });

  router.route({
    method: 'post', path: '/v1/recordings/:id/downloads', permission: 'recording:view', body: issueSchema(deps.config.links.maxTtlSeconds),
    // A download link is a link: a console session needs the same MFA as for a playback link.
    gate: consoleMfaGate(deps.config.console.linkRequiresMfa),
    handler: async (req, res, ctx, { body }) => {
      const p = ctx.principal;
      const role = downloadingRole(p, await deps.downloadGrants.roles(p.tenant));
      if (!role) {
        await deps.audit.record({
          tenant: p.tenant, ...actorFields(auditActor(ctx)), action: 'download.issued', outcome: 'denied', recordingId: null,
          details: { reason: 'download_not_permitted', recording: String(req.params.id).slice(0, 64), roles: p.roles },
        });
        throw new ForbiddenError(undefined, 'download_not_permitted');
      }
      const actor = { ...auditActor(ctx), role };
      const link = await deps.links.issue(p, actor, String(req.params.id), {
        ...body, purpose: 'download', agentScope: agentScope({ ...p, roles: [role] }, 'recording:view'),
      });
      sendIssuedLink(req, res, deps.config.http.publicUrl, link);
    },
  });
}
