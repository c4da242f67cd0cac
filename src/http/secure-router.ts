import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { ConsoleSessionFacts, RequestContext } from '../auth/context.js';
import { AppError, ForbiddenError, UnauthorizedError } from '../errors.js';
import type { TokenVerifier } from '../auth/jwt.js';
import { can, rolesGranting, type Permission, type Principal } from '../auth/permissions.js';
import { parseBody, parseQuery } from '../lib/validate.js';
import { requestIdOf } from './problem.js';

export type { RequestContext } from '../auth/context.js';

/** The request's body and query as the route's schemas parsed them (raw when it declares none). */
export interface RouteInput<B, Q> {
  readonly body: B;
  readonly query: Q;
}

export type SecuredHandler<B = unknown, Q = unknown> = (req: Request, res: Response, ctx: RequestContext, input: RouteInput<B, Q>) => Promise<void>;

export interface SecuredRoute<B = unknown, Q = unknown> {
  readonly method: 'get' | 'put' | 'post' | 'delete';
  readonly path: string;
  /**
   * Required: a route without a permission cannot be registered. A list means "any of": the
   * handler then checks which one the principal holds (e.g. recording:view vs read-receipt).
   */
  readonly permission: Permission | readonly Permission[];
  readonly handler: SecuredHandler<B, Q>;
  /** Parses the JSON body (absent means `{}`) after authorisation; a mismatch answers 400 invalid_body. */
  readonly body?: z.ZodType<B>;
  /** Parses the query parameters after authorisation; a mismatch answers 400 invalid_query. */
  readonly query?: z.ZodType<Q>;
  /** Extra per-route gate after authorisation (mutual TLS, IP allowlist); throws to refuse. */
  readonly gate?: (req: Request, ctx: RequestContext) => void;
}

/** The audit event of a refused request (an 'auth.denied' AuditEventInput). */
export interface DeniedEvent {
  readonly tenant: string | null;
  readonly actorSub: string;
  readonly actorRole: string | null;
  readonly action: 'auth.denied';
  readonly outcome: 'denied';
  readonly ip: string;
  readonly userAgent: string | null;
  readonly requestId: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface SecureRouterDeps {
  readonly tokens: TokenVerifier;
  /** Where refusals are recorded (the audit log's recordDenied); http does not depend on audit. */
  readonly audit: { recordDenied(event: DeniedEvent, source: string): Promise<void> };
  /** Called on every authentication failure (lockout bookkeeping); throws to refuse outright. */
  readonly onAuthFailure?: (ip: string) => Promise<void>;
  readonly beforeAuth?: (req: Request) => Promise<void>;
  /** Console session cookies (src/console): consulted only when the request has no Authorization header. */
  readonly cookies?: CookieAuthenticator;
}

/** A request authenticated by a console session cookie. */
export interface CookieSession {
  readonly principal: Principal;
  /** The request's X-CSRF-Token matched the session's (compared in constant time). */
  readonly csrfValid: boolean;
  readonly session: ConsoleSessionFacts;
}

export interface CookieAuthenticator {
  /** Null when the request carries no session cookie; throws UnauthorizedError for one that names no live session. */
  authenticate(req: Request, base: Omit<RequestContext, 'principal'>): Promise<CookieSession | null>;
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export function clientIp(req: Request): string {
  return (req.ip ?? req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
}

export function userAgentOf(req: Request): string | null {
  const ua = req.get('user-agent');
  return ua ? ua.slice(0, 512) : null;
}

/**
 * Three or more base64url segments joined by dots (JWS or JWE compact form), loosely: the
 * verifier checks the real format. The header is client input seen before authentication, so
 * the pattern must stay linear: no two quantifiers here can trade characters.
 */
const JWT_SHAPE = /^[\w=-]+\.[\w=-]+(?:\.[\w.+/=-]*)?$/;

export function isJwtShaped(text: string): boolean {
  return JWT_SHAPE.test(text);
}

/**
 * The JWT from `Authorization: Bearer <jwt>`, or from `Authorization: Basic` whose password is
 * the JWT (any user name): PBX HTTP clients such as FreeSWITCH mod_httapi can send Basic
 * credentials but not a Bearer header. Either way the same JWT verification applies.
 */
export function bearerToken(header: string | undefined): string | null {
  if (!header || header.length > 16_384) return null;
  const bearer = /^Bearer (\S+)$/i.exec(header);
  if (bearer?.[1]) return isJwtShaped(bearer[1]) ? bearer[1] : null;
  const basic = /^Basic ([a-z0-9+/=]+)$/i.exec(header);
  if (!basic?.[1]) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return decoded.includes(':') && isJwtShaped(password) ? password : null;
}

function permissionList(permission: Permission | readonly Permission[] | undefined): readonly Permission[] {
  if (!permission) return [];
  return typeof permission === 'string' ? [permission] : permission;
}

/** The acting role: the first role granting the first permission of the list that any role grants. */
function grantingRole(principal: Principal, permissions: readonly Permission[]): Principal['roles'][number] | undefined {
  for (const permission of permissions) {
    const role = principal.roles.find((r) => can([r], permission));
    if (role) return role;
  }
  return undefined;
}

/** What authorisation needs of a route. */
type RouteGuard = Pick<SecuredRoute, 'method' | 'path' | 'permission' | 'gate'>;

/** Validation runs after authorisation: an unauthenticated caller learns nothing about the schema. */
function routeInput<B, Q>(req: Request, spec: SecuredRoute<B, Q>): RouteInput<B, Q> {
  return {
    body: spec.body ? parseBody(spec.body, req.body) : req.body as B,
    query: spec.query ? parseQuery(spec.query, req.query) : req.query as Q,
  };
}

export class SecureRouter {
  private readonly router: Router = express.Router();

  constructor(private readonly deps: SecureRouterDeps) {}

  route<B = unknown, Q = unknown>(spec: SecuredRoute<B, Q>): this {
    const permissions = permissionList(spec.permission);
    if (permissions.length === 0 || permissions.some((p) => rolesGranting(p).length === 0)) {
      throw new Error(`route ${spec.method.toUpperCase()} ${spec.path} declares no grantable permission`);
    }
    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      const ctx = await this.authorise(req, res, spec);
      await spec.handler(req, res, ctx, routeInput(req, spec));
    });
    return this;
  }

  build(): Router {
    return this.router;
  }

  private async authorise(req: Request, res: Response, spec: RouteGuard): Promise<RequestContext> {
    const base = { requestId: requestIdOf(res), ip: clientIp(req), userAgent: userAgentOf(req) };
    await this.deps.beforeAuth?.(req);
    let principal: Principal;
    let cookie: CookieSession | null = null;
    try {
      cookie = await this.cookieSession(req, base);
      principal = cookie?.principal ?? await this.verifyBearer(req);
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        await this.deny(base, null, err.code, spec);
        await this.deps.onAuthFailure?.(base.ip);
      }
      throw err;
    }
    if (cookie && !cookie.csrfValid && !SAFE_METHODS.has(req.method)) {
      await this.deny(base, principal, 'csrf_failed', spec);
      throw new ForbiddenError('A state-changing request from the console must carry the session\'s X-CSRF-Token header', 'csrf_failed');
    }
    const granted = grantingRole(principal, permissionList(spec.permission));
    if (!granted) {
      await this.deny(base, principal, 'forbidden', spec);
      throw new ForbiddenError(`Role(s) ${principal.roles.join(', ') || '(none)'} may not ${permissionList(spec.permission).join(' or ')}`);
    }
    const ctx: RequestContext = { ...base, principal: { ...principal, actingRole: granted }, ...(cookie ? { consoleSession: cookie.session } : {}) };
    try {
      spec.gate?.(req, ctx);
    } catch (err) {
      // A gate refusal (mutual TLS, IP allowlist) is a denial like any other: audited before answering.
      if (err instanceof AppError && (err.status === 401 || err.status === 403)) await this.deny(base, principal, err.code, spec);
      throw err;
    }
    res.locals.principal = ctx.principal;
    return ctx;
  }

  /** A bearer token always wins: a cookie is looked at only when no Authorization header came. */
  private async cookieSession(req: Request, base: Omit<RequestContext, 'principal'>): Promise<CookieSession | null> {
    if (!this.deps.cookies || req.get('authorization') !== undefined) return null;
    return this.deps.cookies.authenticate(req, base);
  }

  private async verifyBearer(req: Request): Promise<Principal> {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw new UnauthorizedError('A Bearer token is required', 'missing_token');
    return this.deps.tokens.verify(token);
  }

  private async deny(base: Omit<RequestContext, 'principal'>, principal: Principal | null, reason: string, spec: RouteGuard): Promise<void> {
    await this.deps.audit.recordDenied({
      tenant: principal?.tenant ?? null,
      actorSub: principal?.sub ?? 'anonymous',
      actorRole: principal?.roles[0] ?? null,
      action: 'auth.denied',
      outcome: 'denied',
      ip: base.ip,
      userAgent: base.userAgent,
      requestId: base.requestId,
      details: { reason, permission: permissionList(spec.permission).join('|'), route: `${spec.method.toUpperCase()} ${spec.path}` },
    }, principal?.sub ?? base.ip);
  }
}
