import { timingSafeEqual } from 'node:crypto';
import { actorFields, auditActor, type AuditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import { isRole, type Principal } from '../auth/permissions.js';
import type { Db } from '../db/knex.js';
import { seal, unseal } from '../lib/seal.js';
import { csrfTokenOf, newSessionSecret, verifierOf, type SessionSecret } from './session-token.js';

/**
 * Console sessions in PostgreSQL. A session is live while it has not ended, was used within the
 * idle timeout and is younger than its absolute lifetime, all three judged on the database's
 * clock, so replicas with drifting clocks agree. Sign-in, sign-out and expiry are audited in the
 * same transaction as the row change: a session never starts or ends unrecorded.
 */
export type SignInMethod = 'development' | 'oidc';
export type EndReason = 'signed_out' | 'idle' | 'absolute';

/** What the identity provider handed over; sealed in the row, never sent to the browser. */
export interface ProviderTokens {
  readonly idToken?: string;
  readonly accessToken?: string;
  readonly refreshToken?: string;
}

export interface NewSession {
  readonly principal: Principal;
  readonly method: SignInMethod;
  readonly amr?: readonly string[];
  readonly acr?: string | null;
  readonly tokens?: ProviderTokens;
}

export interface LiveSession {
  readonly id: string;
  readonly principal: Principal;
  readonly method: SignInMethod;
  readonly amr: readonly string[];
  readonly acr: string | null;
  readonly csrfToken: string;
}

export interface SessionOptions {
  readonly idleTimeoutMs: number;
  readonly maxAgeMs: number;
  /** AES-256 key for the identity-provider tokens kept with a session. */
  readonly sealKey: Buffer;
}

interface SessionRow {
  id: string; verifier: Buffer; tenant: string; sub: string; roles: string[]; method: SignInMethod; amr: string[]; acr: string | null;
  tokens: Buffer | null; ended: boolean; idle_over: boolean; absolute_over: boolean;
}

/** The label of the key (derived from the link signing key) that seals provider tokens and PKCE verifiers. */
export const CONSOLE_SEAL_LABEL = 'callvault console session tokens v1';

const SWEEP_BATCH = 500;
const RETAIN_ENDED_DAYS = 30;

/** How often at most a session's last use is written: reads within this window cost no write. */
const TOUCH_EVERY_SECONDS = 5;

export class ConsoleSessions {
  constructor(private readonly db: Db, private readonly audit: Pick<AuditLog, 'record' | 'recordMany'>, private readonly opts: SessionOptions) {}

  /** Starts a session and audits `console.signed_in`; returns the cookie's parts. */
  async create(input: NewSession, actor: Omit<AuditActor, 'sub' | 'role'>): Promise<SessionSecret> {
    await this.sweep();
    const token = newSessionSecret();
    const { principal } = input;
    await this.db.transaction(async (trx) => {
      await trx('console_sessions').insert({
        id: token.id, verifier: verifierOf(token.secret), tenant: principal.tenant, sub: principal.sub, roles: [...principal.roles],
        method: input.method, amr: [...(input.amr ?? [])], acr: input.acr ?? null,
        tokens: input.tokens ? seal(this.opts.sealKey, Buffer.from(JSON.stringify(input.tokens)), token.id) : null,
        expires_at: trx.raw('now() + make_interval(secs => ?)', [this.opts.maxAgeMs / 1000]),
      });
      await this.audit.record({
        tenant: principal.tenant, ...actorFields({ ...actor, sub: principal.sub, role: principal.roles[0] ?? null }),
        action: 'console.signed_in', outcome: 'allowed',
        details: { sessionId: token.id, method: input.method, roles: [...principal.roles], amr: [...(input.amr ?? [])], acr: input.acr ?? null },
      }, trx);
    });
    return token;
  }

  /**
   * The live session the cookie names, or null. A session found past its idle or absolute limit
   * is ended here (and audited once, whichever replica sees it first).
   */
  async resolve(cookie: SessionSecret, actor: Omit<AuditActor, 'sub' | 'role'>): Promise<LiveSession | null> {
    const row = await this.find(cookie.id);
    if (!row || !timingSafeEqual(row.verifier, verifierOf(cookie.secret)) || row.ended) return null;
    if (row.absolute_over || row.idle_over) {
      await this.end(row, row.absolute_over ? 'absolute' : 'idle', actor);
      return null;
    }
    await this.db('console_sessions').where({ id: row.id }).whereNull('ended_at')
      .andWhereRaw('last_seen_at < now() - make_interval(secs => ?)', [TOUCH_EVERY_SECONDS])
      .update({ last_seen_at: this.db.fn.now() });
    return {
      id: row.id, principal: principalOf(row), method: row.method, amr: row.amr, acr: row.acr, csrfToken: csrfTokenOf(cookie.secret),
    };
  }

  /** Ends a live session at the user's request; returns its provider tokens (for the logout at the provider). */
  async signOut(session: LiveSession, actor: Omit<AuditActor, 'sub' | 'role'>): Promise<ProviderTokens | null> {
    const row = await this.find(session.id);
    if (!row) return null;
    await this.end(row, 'signed_out', actor);
    return row.tokens ? JSON.parse(unseal(this.opts.sealKey, row.tokens, row.id).toString('utf8')) as ProviderTokens : null;
  }

  /**
   * Ends sessions nobody came back to once they are past a limit (audited, tokens dropped, by
   * `system:console-sessions`), and deletes rows ended more than RETAIN_ENDED_DAYS ago: the audit
   * log keeps their history. Runs at each sign-in, a bounded batch at a time.
   */
  async sweep(): Promise<number> {
    const idleSeconds = this.opts.idleTimeoutMs / 1000;
    return this.db.transaction(async (trx) => {
      const ended = await trx.raw<{ rows: Array<Pick<SessionRow, 'id' | 'tenant' | 'sub' | 'method'> & { end_reason: EndReason }> }>(`
        UPDATE console_sessions SET ended_at = now(), tokens = NULL,
          end_reason = CASE WHEN expires_at <= now() THEN 'absolute' ELSE 'idle' END
        WHERE id IN (
          SELECT id FROM console_sessions
          WHERE ended_at IS NULL AND (expires_at <= now() OR last_seen_at <= now() - make_interval(secs => ?))
          ORDER BY last_seen_at LIMIT ? FOR UPDATE SKIP LOCKED)
        RETURNING id, tenant, sub, method, end_reason`, [idleSeconds, SWEEP_BATCH]);
      if (ended.rows.length > 0) {
        await this.audit.recordMany(ended.rows.map((row) => ({
          tenant: row.tenant, ...actorFields(auditActor('system:console-sessions')), action: 'console.session_expired' as const, outcome: 'allowed' as const,
          details: { sessionId: row.id, sub: row.sub, method: row.method, reason: row.end_reason },
        })), trx);
      }
      await trx('console_sessions').whereRaw('ended_at < now() - make_interval(days => ?)', [RETAIN_ENDED_DAYS]).delete();
      return ended.rows.length;
    });
  }

  private async find(id: string): Promise<SessionRow | null> {
    const row = await this.db('console_sessions').where({ id }).first<SessionRow | undefined>(
      'id', 'verifier', 'tenant', 'sub', 'roles', 'method', 'amr', 'acr', 'tokens',
      this.db.raw('ended_at IS NOT NULL AS ended'),
      this.db.raw('last_seen_at <= now() - make_interval(secs => ?) AS idle_over', [this.opts.idleTimeoutMs / 1000]),
      this.db.raw('expires_at <= now() AS absolute_over'),
    );
    return row ?? null;
  }

  private async end(row: SessionRow, reason: EndReason, actor: Omit<AuditActor, 'sub' | 'role'>): Promise<void> {
    await this.db.transaction(async (trx) => {
      // Dropping the sealed tokens too: an ended session has no use for them.
      const ended = await trx('console_sessions').where({ id: row.id }).whereNull('ended_at')
        .update({ ended_at: trx.fn.now(), end_reason: reason, tokens: null }, ['id']);
      if (ended.length === 0) return;
      await this.audit.record({
        tenant: row.tenant, ...actorFields({ ...actor, sub: row.sub, role: null }),
        action: reason === 'signed_out' ? 'console.signed_out' : 'console.session_expired', outcome: 'allowed',
        details: { sessionId: row.id, method: row.method, ...(reason === 'signed_out' ? {} : { reason }) },
      }, trx);
    });
  }
}

function principalOf(row: SessionRow): Principal {
  return Object.freeze({ sub: row.sub, tenant: row.tenant, roles: Object.freeze(row.roles.filter(isRole)) });
}
