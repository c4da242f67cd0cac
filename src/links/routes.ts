import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../audit/types.js';
import type { Db } from '../db/knex.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { ExfiltrationGuard } from '../guards/index.js';
import { auditActor, type SecureRouter } from '../http/secure-router.js';
import type { RecordingStore } from '../recordings/store.js';
import { LinkStore } from './store.js';
import { LinkSigner } from './token.js';

/**
 * Issuing and revoking playback links. Each link row and its audit event commit in one
 * transaction before the client hears of the link: a link that was not audited never existed.
 */
export interface LinkRouteDeps {
  readonly db: Db;
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly linkSigningKey: Buffer;
  readonly config: {
    readonly http: { readonly publicUrl?: string };
    readonly links: { readonly defaultTtlSeconds: number; readonly maxTtlSeconds: number };
  };
  /** Link issuance budget per principal (src/guards). */
  readonly guards?: { readonly exfiltration?: Pick<ExfiltrationGuard, 'checkIssue'> };
}

export interface IssuedLink { readonly linkId: string; readonly url: string; readonly expiresAt: string }

function issueSchema(maxTtl: number) {
  return z.strictObject({
    reason: z.string().trim().min(3, 'reason must be at least 3 characters').max(500, 'reason must be at most 500 characters'),
    ttlSeconds: z.number().int('ttlSeconds must be an integer').min(1).max(maxTtl, `ttlSeconds must be at most ${maxTtl}`).optional(),
    singleUse: z.boolean().optional(),
  });
}

function parseIssueBody(body: unknown, maxTtl: number): z.infer<ReturnType<typeof issueSchema>> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('The body must be a JSON object {reason, ttlSeconds?, singleUse?} sent as application/json', 'invalid_body');
  }
  const parsed = issueSchema(maxTtl).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : String(issue?.path[0] ?? 'body');
    throw new BadRequestError(`${where}: ${issue?.message ?? 'invalid'}`, 'invalid_body');
  }
  return parsed.data;
}

/**
 * Where links point. PUBLIC_URL when set (it must be, behind a proxy or load balancer); else
 * https://localhost on the port this request arrived on. The Host header is never used: a
 * client must not be able to make the vault mint links to a host of its choosing.
 */
export function publicBase(publicUrl: string | undefined, req: Request): string {
  return publicUrl ?? `https://localhost:${req.socket.localPort ?? 8443}`;
}

export function registerLinkRoutes(router: SecureRouter, deps: LinkRouteDeps): void {
  const links = new LinkStore(deps.db);
  const signer = new LinkSigner(deps.linkSigningKey);
  const notFound = (): NotFoundError => new NotFoundError('No such recording');

  router.route({
    method: 'post', path: '/v1/recordings/:id/links', permission: 'link:issue',
    handler: async (req, res, ctx) => {
      const body = parseIssueBody(req.body, deps.config.links.maxTtlSeconds);
      await deps.guards?.exfiltration?.checkIssue(ctx.principal, ctx);
      const ttlSeconds = body.ttlSeconds ?? deps.config.links.defaultTtlSeconds;
      const singleUse = body.singleUse ?? false;
      const tenant = ctx.principal.tenant;
      const linkId = randomUUID();
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      const recordingId = await deps.db.transaction(async (trx) => {
        const recording = await deps.recordings.findActive(tenant, String(req.params.id), null, trx);
        if (!recording) throw notFound();
        await links.insert({ id: linkId, tenant, recordingId: recording.id, issuedBy: ctx.principal.sub, reason: body.reason, singleUse, expiresAt }, trx);
        await deps.audit.record({
          ...auditActor(ctx), action: 'link.issued', outcome: 'allowed', recordingId: recording.id, linkId,
          details: { reason: body.reason, ttlSeconds, singleUse, expiresAt: expiresAt.toISOString() },
        }, trx);
        return recording.id;
      });
      const token = signer.sign({ linkId, recordingId, tenant, issuer: signer.issuerTag(ctx.principal.sub), expiresAt: expiresAt.getTime() });
      const issued: IssuedLink = { linkId, url: `${publicBase(deps.config.http.publicUrl, req)}/media/${token}`, expiresAt: expiresAt.toISOString() };
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json(issued);
    },
  });

  router.route({
    method: 'delete', path: '/v1/links/:linkId', permission: 'link:revoke',
    handler: async (req, res, ctx) => {
      await deps.db.transaction(async (trx) => {
        const revoked = await links.revoke(ctx.principal.tenant, String(req.params.linkId), ctx.principal.sub, trx);
        if (!revoked) throw new NotFoundError('No such link');
        await deps.audit.record({
          ...auditActor(ctx), action: 'link.revoked', outcome: 'allowed', recordingId: revoked.link.recordingId, linkId: revoked.link.id,
          details: { alreadyRevoked: revoked.alreadyRevoked },
        }, trx);
      });
      res.status(204).end();
    },
  });
}
