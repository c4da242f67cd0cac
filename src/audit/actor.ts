import type { AuditEventInput } from './types.js';

/**
 * Who did something, as the audit log records it: a principal through the API (with the address,
 * user agent and request it came with), an operator at the CLI, or a worker of the vault.
 * Services take this one type; only the edges (routes, CLI commands, workers) build it.
 */
export interface AuditActor {
  readonly sub: string;
  /** The role the action was allowed under; null for the vault's own workers and the CLI. */
  readonly role: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

/** What a route knows of its caller (src/http/secure-router.ts RequestContext has this shape). */
export interface ActorRequest {
  readonly principal: { readonly sub: string; readonly actingRole?: string };
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string;
}

/**
 * Actors outside a request: the vault's workers as `system:<what>`, an operator at the CLI as
 * `cli:<login>`, so an auditor can tell them apart.
 */
export type SystemActorName = `system:${string}` | `cli:${string}`;

/** The one builder: the actor of a request, or one acting outside any request. */
export function auditActor(from: ActorRequest | SystemActorName): AuditActor {
  if (typeof from === 'string') return { sub: from, role: null, ip: null, userAgent: null, requestId: null };
  return { sub: from.principal.sub, role: from.principal.actingRole ?? null, ip: from.ip, userAgent: from.userAgent, requestId: from.requestId };
}

/** The actor's columns of an audit event. */
export function actorFields(actor: AuditActor): Pick<AuditEventInput, 'actorSub' | 'actorRole' | 'ip' | 'userAgent' | 'requestId'> {
  return { actorSub: actor.sub, actorRole: actor.role, ip: actor.ip, userAgent: actor.userAgent, requestId: actor.requestId };
}
