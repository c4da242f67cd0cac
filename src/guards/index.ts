import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuditLog } from '../audit/types.js';
import { composeGates, type Gate } from '../auth/gates.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Principal } from '../auth/permissions.js';
import type { Config } from '../config/config.js';
import { TooManyRequestsError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { Metrics } from '../http/metrics.js';
import { clientIp } from '../http/secure-router.js';
import { ExfiltrationGuard } from './exfiltration.js';
import { IpAllowlist, pbxIpGate } from './ip-allowlist.js';
import type { Limits } from './limits.js';
import { AuthLockout } from './lockout.js';
import { RateLimiter } from './rate-limiter.js';
import { sourceKey } from './source.js';

export { ExfiltrationGuard, type AccessContext, type ExfiltrationOptions } from './exfiltration.js';
export { IpAllowlist, pbxIpGate } from './ip-allowlist.js';
export { Limit, Limits, LIMITS_TABLE, retryAfterSeconds, type LimitSpec, type Usage } from './limits.js';
export { AuthLockout, type LockoutOptions } from './lockout.js';
export { RateLimiter, type LimitDecision, type RateLimiterOptions } from './rate-limiter.js';
export { sourceKey } from './source.js';

/**
 * The request guards: per-IP and per-principal rate limits, authentication lockout, the pbx IP
 * allowlist and the exfiltration guard. Every counter lives in the database (src/guards/limits.ts),
 * so every limit applies to the whole deployment however many replicas serve it (see
 * docs/operations.md for what happens while the database is unreachable).
 */
export interface RequestGuards {
  /** Composed pbx gate: the one passed in (mutual TLS), then the IP allowlist. */
  readonly pbxGate?: Gate;
  /** Refuses a locked-out source before any credential is looked at. */
  readonly beforeAuth: (req: Request) => Promise<void>;
  /** Counts one failed authentication (bad bearer token, bad media link) from `ip`. */
  readonly onAuthFailure: (ip: string) => Promise<void>;
  /** Express middleware: the per-IP rate limit. */
  readonly ipRateLimit: RequestHandler;
  /** Throws 429 when the verified principal is over its rate. */
  readonly principalRateLimit: (principal: Principal) => Promise<void>;
  readonly exfiltration: ExfiltrationGuard;
  readonly lockout: AuthLockout;
}

export interface GuardDeps {
  readonly audit: Pick<AuditLog, 'record' | 'recordDenied'>;
  readonly metrics: Pick<Metrics, 'anomalyRefusals'>;
  readonly logger: Pick<Logger, 'warn'>;
  /** The shared counters (src/guards/limits.ts). */
  readonly limits: Limits;
}

/** Paths a load balancer or the container runtime polls; they do no work worth limiting. */
const UNLIMITED_PATHS = new Set(['/healthz']);

/** `opts.pbxGate` (mutual TLS) runs before the IP allowlist on pbx upload routes. */
export function createGuards(config: Config, deps: GuardDeps, opts: { pbxGate?: Gate } = {}): RequestGuards {
  const limits = config.limits;
  const refused = (kind: string): void => deps.metrics.anomalyRefusals.inc({ kind });
  const lockout = new AuthLockout(deps.limits, {
    failures: limits.lockoutFailures, windowSeconds: limits.lockoutSeconds, lockoutSeconds: limits.lockoutSeconds,
    onRefused: () => refused('locked_out'),
    onLocked: async (ip, failures) => {
      deps.logger.warn({ ip, failures, lockoutSeconds: limits.lockoutSeconds }, 'source locked out after repeated authentication failures');
      // Awaited so that the lockout is in the log before the refusal is answered; the refusal
      // itself stands even when the log cannot be written.
      await deps.audit.recordDenied({
        tenant: null, actorSub: 'anonymous', actorRole: null, action: 'auth.denied', outcome: 'denied', ip,
        details: { reason: 'locked_out', failures, lockoutSeconds: limits.lockoutSeconds },
      }, ip).catch((err: unknown) => deps.logger.warn({ err }, 'the lockout could not be audited'));
    },
  });
  const ipGate = pbxIpGate(IpAllowlist.of(limits.pbxAllowedCidrs), () => refused('ip_not_allowed'));
  const perIp = new RateLimiter(deps.limits, { name: 'ip', perMinute: limits.ratePerMinute });
  const perPrincipal = new RateLimiter(deps.limits, { name: 'principal', perMinute: limits.principalRatePerMinute });
  return {
    pbxGate: composeGates(opts.pbxGate, ipGate),
    beforeAuth: (req) => lockout.assertAllowed(clientIp(req)),
    onAuthFailure: async (ip) => { await lockout.recordFailure(ip); },
    ipRateLimit: ipRateLimit(perIp, () => refused('rate_limit_ip')),
    principalRateLimit: async (principal) => {
      const decision = await perPrincipal.take(`${principal.tenant}\u0000${principal.sub}`);
      if (decision.allowed) return;
      refused('rate_limit_principal');
      throw new TooManyRequestsError('Too many requests for this principal; slow down', decision.retryAfterSeconds, 'rate_limited');
    },
    exfiltration: new ExfiltrationGuard(deps.limits, {
      perHour: limits.linkRatePerHour, audit: deps.audit,
      onRefused: () => refused('download_rate'),
      onAuditFailure: (err) => deps.logger.warn({ err }, 'could not write the anomaly.download_rate audit event'),
    }),
    lockout,
  };
}

function ipRateLimit(limiter: RateLimiter, onRefused: () => void): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    if (UNLIMITED_PATHS.has(req.path)) return next();
    const decision = await limiter.take(sourceKey(clientIp(req)));
    if (decision.allowed) return next();
    onRefused();
    next(new TooManyRequestsError('Too many requests from this address; slow down', decision.retryAfterSeconds, 'rate_limited'));
  };
}

/** A token verifier that also applies the per-principal rate limit to whoever it verified. */
export function rateLimitedVerifier(inner: TokenVerifier, limit: ((principal: Principal) => Promise<void>) | undefined): TokenVerifier {
  if (!limit) return inner;
  return {
    verify: async (token) => {
      const principal = await inner.verify(token);
      await limit(principal);
      return principal;
    },
  };
}
