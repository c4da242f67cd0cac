import type { Request, Response } from 'express';
import { z } from 'zod';
import { auditActor } from '../audit/actor.js';
import { consoleMfaGate } from '../auth/mfa-gate.js';
import type { SecureRouter } from '../http/secure-router.js';
import type { LinkService, NewLinkToken } from './service.js';

/** The HTTP face of the link service: validation and the URL; the service does the rest. */
export interface LinkRouteDeps {
  readonly links: LinkService;
  readonly config: {
    readonly http: { readonly publicUrl?: string };
    readonly links: { readonly maxTtlSeconds: number };
    readonly console: { readonly linkRequiresMfa: boolean };
  };
}

export interface IssuedLink { readonly linkId: string; readonly url: string; readonly expiresAt: string }

export function issueSchema(maxTtl: number) {
  return z.strictObject({
    reason: z.string().trim().min(3, 'reason must be at least 3 characters').max(500, 'reason must be at most 500 characters'),
    ttlSeconds: z.number().int('ttlSeconds must be an integer').min(1).max(maxTtl, `ttlSeconds must be at most ${maxTtl}`).optional(),
    singleUse: z.boolean().optional(),
  });
}

/**
 * Where links point. PUBLIC_URL when set (it must be, behind a proxy or load balancer); else
 * https://localhost on the port this request arrived on. The Host header is never used: a
 * client must not be able to make the vault mint links to a host of its choosing.
 */
export function publicBase(publicUrl: string | undefined, req: Request): string {
  return publicUrl ?? `https://localhost:${req.socket.localPort ?? 8443}`;
}

/** 201 with the link's URL: the token appears in this answer and nowhere else. */
export function sendIssuedLink(req: Request, res: Response, publicUrl: string | undefined, link: NewLinkToken): void {
  const issued: IssuedLink = { linkId: link.linkId, url: `${publicBase(publicUrl, req)}/media/${link.token}`, expiresAt: link.expiresAt.toISOString() };
  res.status(201).setHeader('Cache-Control', 'no-store');
  res.json(issued);
}

export function registerLinkRoutes(router: SecureRouter, deps: LinkRouteDeps): void {
  router.route({
    method: 'post', path: '/v1/recordings/:id/links', permission: 'link:issue',
    body: issueSchema(deps.config.links.maxTtlSeconds),
    gate: consoleMfaGate(deps.config.console.linkRequiresMfa),
    handler: async (req, res, ctx, { body }) => {
      const link = await deps.links.issue(ctx.principal, auditActor(ctx), String(req.params.id), body);
      sendIssuedLink(req, res, deps.config.http.publicUrl, link);
    },
  });

  router.route({
    method: 'delete', path: '/v1/links/:linkId', permission: 'link:revoke',
    handler: async (req, res, ctx) => {
      await deps.links.revoke(ctx.principal, auditActor(ctx), String(req.params.linkId));
      res.status(204).end();
    },
  });
}
