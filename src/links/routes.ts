import type { Request } from 'express';
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import type { SecureRouter } from '../http/secure-router.js';
import type { LinkService } from './service.js';

/** The HTTP face of the link service: validation and the URL; the service does the rest. */
export interface LinkRouteDeps {
  readonly links: LinkService;
  readonly config: {
    readonly http: { readonly publicUrl?: string };
    readonly links: { readonly maxTtlSeconds: number };
  };
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
  router.route({
    method: 'post', path: '/v1/recordings/:id/links', permission: 'link:issue',
    handler: async (req, res, ctx) => {
      const body = parseIssueBody(req.body, deps.config.links.maxTtlSeconds);
      const link = await deps.links.issue(ctx, String(req.params.id), body);
      const issued: IssuedLink = {
        linkId: link.linkId, url: `${publicBase(deps.config.http.publicUrl, req)}/media/${link.token}`, expiresAt: link.expiresAt.toISOString(),
      };
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json(issued);
    },
  });

  router.route({
    method: 'delete', path: '/v1/links/:linkId', permission: 'link:revoke',
    handler: async (req, res, ctx) => {
      await deps.links.revoke(ctx, String(req.params.linkId));
      res.status(204).end();
    },
  });
}
