import type { AuditEventInput, AuditLog } from '../audit/types.js';
import type { Principal } from '../auth/permissions.js';
import { TooManyRequestsError } from '../errors.js';
import { retryAfterSeconds, type Limit, type Limits } from './limits.js';

/**
 * Bulk-download detection. A supervisor who issues more than `perHour` links in an hour, or whose
 * links are redeemed for more than `perHour` distinct playbacks in an hour, is refused with 429
 * until the window is over. Redemptions count against the link's issuer, not the redeemer, so
 * handing links to someone else does not widen the budget; a playback is one link, however many
 * Range requests seeking through it takes. The first refusal in a window writes one
 * `anomaly.download_rate` audit event, so an alert fires once rather than per request.
 * The windows are shared by every replica (src/guards/limits.ts). While the database is
 * unreachable the guard refuses with 503: issuing a link and playing one need the database
 * anyway, and counting per replica would multiply the budget when nothing can be audited.
 */
export interface ExfiltrationOptions {
  readonly perHour: number;
  readonly audit: Pick<AuditLog, 'record'>;
  /** Counts each refused request. */
  readonly onRefused?: () => void;
  /** Told when the anomaly event could not be written (the request is refused regardless). */
  readonly onAuditFailure?: (err: unknown) => void;
  readonly windowSeconds?: number;
}

/** Where a checked request came from, for the audit event. */
export interface AccessContext {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  readonly requestId?: string | null;
}

type Activity = 'link_issue' | 'link_redeem';

const HOUR_SECONDS = 3_600;

export class ExfiltrationGuard {
  private readonly budgets: Record<Activity, Limit>;
  /** Links already counted in their issuer's window: one point each, so a second look is free. */
  private readonly played: Limit;
  /** One point per window and activity: the first refusal alerts, the rest stay quiet. */
  private readonly alerted: Limit;
  private readonly windowSeconds: number;

  constructor(limits: Limits, private readonly opts: ExfiltrationOptions) {
    if (!(opts.perHour >= 1)) throw new RangeError('perHour must be at least 1');
    const windowSeconds = opts.windowSeconds ?? HOUR_SECONDS;
    this.windowSeconds = windowSeconds;
    const limit = (name: string, points: number): Limit => limits.limit({ name, points, windowSeconds, whenStoreDown: 'refuse' });
    this.budgets = { link_issue: limit('link-issue', opts.perHour), link_redeem: limit('link-redeem', opts.perHour) };
    this.played = limit('link-played', 1);
    this.alerted = limit('link-alerted', 1);
  }

  /** Before issuing a link: counts one issuance by `principal`, or refuses with 429. */
  async checkIssue(principal: Principal, ctx: AccessContext = {}): Promise<void> {
    await this.check('link_issue', principal.tenant, principal.sub, null, principal.actingRole ?? null, ctx);
  }

  /**
   * Before streaming a link's audio: counts the link once per window against its issuer (later
   * Range requests of the same link pass without counting), or refuses with 429.
   */
  async checkRedeem(tenant: string, issuerSub: string, linkId: string, ctx: AccessContext = {}): Promise<void> {
    const playedKey = keyOf(tenant, issuerSub, linkId);
    if ((await this.played.consume(playedKey)).consumed > 1) return;
    try {
      await this.check('link_redeem', tenant, issuerSub, linkId, null, ctx);
    } catch (err) {
      // A refused playback was not counted: it must count when it is retried in a later window.
      await this.played.forget(playedKey).catch(() => undefined);
      throw err;
    }
  }

  private async check(activity: Activity, tenant: string, sub: string, linkId: string | null, role: string | null, ctx: AccessContext): Promise<void> {
    const usage = await this.budgets[activity].consume(keyOf(tenant, sub));
    if (usage.allowed) return;
    this.opts.onRefused?.();
    const alertKey = keyOf(activity, tenant, sub);
    if ((await this.alerted.consume(alertKey)).consumed === 1 && !(await this.alert({ activity, tenant, sub, linkId, role, ctx }))) {
      await this.alerted.forget(alertKey).catch(() => undefined);
    }
    throw new TooManyRequestsError(
      `More than ${this.opts.perHour} ${activity === 'link_issue' ? 'links issued' : 'recordings played'} per hour; access is paused`,
      retryAfterSeconds(usage), 'download_rate_exceeded',
    );
  }

  /** False when the event could not be written; the next refusal in the window tries again. */
  private async alert(a: { activity: Activity; tenant: string; sub: string; linkId: string | null; role: string | null; ctx: AccessContext }): Promise<boolean> {
    const event: AuditEventInput = {
      tenant: a.tenant, actorSub: a.sub, actorRole: a.role, action: 'anomaly.download_rate', outcome: 'denied',
      linkId: a.linkId, ip: a.ctx.ip ?? null, userAgent: a.ctx.userAgent ?? null, requestId: a.ctx.requestId ?? null,
      details: { activity: a.activity, limitPerHour: this.opts.perHour, windowSeconds: this.windowSeconds },
    };
    try {
      await this.opts.audit.record(event);
    } catch (err) {
      this.opts.onAuditFailure?.(err);
      return false;
    }
    return true;
  }
}

function keyOf(...parts: string[]): string {
  return parts.join('\u0000');
}
