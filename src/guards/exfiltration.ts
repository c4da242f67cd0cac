import type { AuditEventInput, AuditLog } from '../audit/types.js';
import type { Principal } from '../auth/permissions.js';
import { TooManyRequestsError } from '../errors.js';
import { BoundedMap } from './bounded-map.js';

/**
 * Bulk-download detection. A supervisor who issues more than `perHour` links in an hour, or whose
 * links are redeemed for more than `perHour` distinct playbacks in an hour, is refused with 429
 * until the window frees up. Redemptions count against the link's issuer, not the redeemer, so
 * handing links to someone else does not widen the budget; a playback is one link, however many
 * Range requests seeking through it takes. The first refusal in a window writes one
 * `anomaly.download_rate` audit event, so an alert fires once rather than per request.
 * Like the rate limits, the windows are per replica.
 */
export interface ExfiltrationOptions {
  readonly perHour: number;
  readonly audit: Pick<AuditLog, 'record'>;
  /** Counts each refused request. */
  readonly onRefused?: () => void;
  /** Told when the anomaly event could not be written (the request is refused regardless). */
  readonly onAuditFailure?: (err: unknown) => void;
  readonly maxKeys?: number;
  readonly windowMs?: number;
  readonly clock?: () => number;
}

/** Where a checked request came from, for the audit event. */
export interface AccessContext {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  readonly requestId?: string | null;
}

type Activity = 'link_issue' | 'link_redeem';

interface Window {
  /** id → time first counted, in insertion (and so time) order. */
  readonly seen: Map<string, number>;
  alertedAt: number | null;
}

const HOUR_MS = 3_600_000;

export class ExfiltrationGuard {
  private readonly windows: BoundedMap<string, Window>;
  private readonly windowMs: number;
  private readonly clock: () => number;
  private issued = 0;

  constructor(private readonly opts: ExfiltrationOptions) {
    if (!(opts.perHour >= 1)) throw new RangeError('perHour must be at least 1');
    this.windows = new BoundedMap(opts.maxKeys ?? 20_000);
    this.windowMs = opts.windowMs ?? HOUR_MS;
    this.clock = opts.clock ?? Date.now;
  }

  /** Before issuing a link: counts one issuance by `principal`, or refuses with 429. */
  async checkIssue(principal: Principal, ctx: AccessContext = {}): Promise<void> {
    this.issued += 1;
    await this.check('link_issue', principal.tenant, principal.sub, `issue-${this.issued}`, null, principal.actingRole ?? null, ctx);
  }

  /**
   * Before streaming a link's audio: counts the link once per window against its issuer (later
   * Range requests of the same link pass without counting), or refuses with 429.
   */
  async checkRedeem(tenant: string, issuerSub: string, linkId: string, ctx: AccessContext = {}): Promise<void> {
    await this.check('link_redeem', tenant, issuerSub, `link-${linkId}`, linkId, null, ctx);
  }

  private async check(
    activity: Activity, tenant: string, sub: string, id: string, linkId: string | null, role: string | null, ctx: AccessContext,
  ): Promise<void> {
    const now = this.clock();
    const window = this.windows.getOrCreate(`${activity}\u0000${tenant}\u0000${sub}`, () => ({ seen: new Map(), alertedAt: null }));
    this.expire(window, now);
    if (window.seen.has(id)) return;
    if (window.seen.size < this.opts.perHour) {
      window.seen.set(id, now);
      return;
    }
    this.opts.onRefused?.();
    const oldest = window.seen.values().next().value ?? now;
    const retryAfterSeconds = Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
    if (window.alertedAt === null || now - window.alertedAt >= this.windowMs) {
      window.alertedAt = now;
      if (!(await this.alert({ activity, tenant, sub, linkId, role, ctx }))) window.alertedAt = null;
    }
    throw new TooManyRequestsError(
      `More than ${this.opts.perHour} ${activity === 'link_issue' ? 'links issued' : 'recordings played'} per hour; access is paused`,
      retryAfterSeconds, 'download_rate_exceeded',
    );
  }

  private expire(window: Window, now: number): void {
    for (const [id, at] of window.seen) {
      if (at > now - this.windowMs) break;
      window.seen.delete(id);
    }
  }

  /** False when the event could not be written; the next refusal in the window tries again. */
  private async alert(a: { activity: Activity; tenant: string; sub: string; linkId: string | null; role: string | null; ctx: AccessContext }): Promise<boolean> {
    const event: AuditEventInput = {
      tenant: a.tenant, actorSub: a.sub, actorRole: a.role, action: 'anomaly.download_rate', outcome: 'denied',
      linkId: a.linkId, ip: a.ctx.ip ?? null, userAgent: a.ctx.userAgent ?? null, requestId: a.ctx.requestId ?? null,
      details: { activity: a.activity, limitPerHour: this.opts.perHour, windowSeconds: Math.round(this.windowMs / 1000) },
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
