import { randomUUID } from 'node:crypto';
import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditLog } from '../audit/types.js';
import type { Principal } from '../auth/permissions.js';
import type { Db } from '../db/knex.js';
import { NotFoundError } from '../errors.js';
import type { ExfiltrationGuard } from '../guards/index.js';
import type { RecordingStore } from '../recordings/store.js';
import type { LinkPurpose, LinkStore } from './store.js';
import type { LinkSigner } from './token.js';

/**
 * Issuing and revoking playback links. Each link row and its audit event commit in one
 * transaction before the client hears of the link: a link that was not audited never existed.
 */
export interface LinkServiceDeps {
  readonly db: Db;
  readonly links: Pick<LinkStore, 'insert' | 'revoke'>;
  readonly signer: Pick<LinkSigner, 'sign' | 'issuerTag'>;
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly defaultTtlSeconds: number;
  /** Link issuance budget per principal (src/guards). */
  readonly exfiltration?: Pick<ExfiltrationGuard, 'checkIssue'>;
}

export interface LinkRequest {
  readonly reason: string; readonly ttlSeconds?: number; readonly singleUse?: boolean;
  /** A download link is audited apart from a playback link, at issuance and at every use. */
  readonly purpose?: LinkPurpose;
  /** Restricts the recording to this agent's own (src/auth/permissions.ts agentScope). */
  readonly agentScope?: string | null;
}

/** A new link: its token goes into the URL the caller builds, and nowhere else. */
export interface NewLinkToken { readonly linkId: string; readonly token: string; readonly expiresAt: Date }

export interface LinkService {
  issue(principal: Principal, actor: AuditActor, recordingId: string, request: LinkRequest): Promise<NewLinkToken>;
  /** Idempotent: revoking a revoked link succeeds again and is audited again. */
  revoke(principal: Principal, actor: AuditActor, linkId: string): Promise<void>;
}

export function createLinkService(deps: LinkServiceDeps): LinkService {
  return {
    async issue(principal, actor, recordingId, request) {
      await deps.exfiltration?.checkIssue(principal, actor);
      const ttlSeconds = request.ttlSeconds ?? deps.defaultTtlSeconds;
      const singleUse = request.singleUse ?? false;
      const purpose = request.purpose ?? 'play';
      const tenant = principal.tenant;
      const link = await deps.db.transaction(async (trx) => {
        const recording = await deps.recordings.findActive(tenant, recordingId, request.agentScope ?? null, trx);
        if (!recording) throw new NotFoundError('No such recording');
        const inserted = await deps.links.insert({
          id: randomUUID(), tenant, recordingId: recording.id, issuedBy: principal.sub, reason: request.reason, singleUse, ttlSeconds, purpose,
        }, trx);
        await deps.audit.record({
          tenant, ...actorFields(actor), action: purpose === 'download' ? 'download.issued' : 'link.issued', outcome: 'allowed',
          recordingId: recording.id, linkId: inserted.id,
          details: { reason: request.reason, ttlSeconds, singleUse, expiresAt: inserted.expiresAt.toISOString(), purpose },
        }, trx);
        return inserted;
      });
      const token = deps.signer.sign({
        linkId: link.id, recordingId: link.recordingId, tenant, issuer: deps.signer.issuerTag(link.issuedBy), expiresAt: link.expiresAt.getTime(),
      });
      return { linkId: link.id, token, expiresAt: link.expiresAt };
    },

    async revoke(principal, actor, linkId) {
      await deps.db.transaction(async (trx) => {
        const revoked = await deps.links.revoke(principal.tenant, linkId, principal.sub, trx);
        if (!revoked) throw new NotFoundError('No such link');
        await deps.audit.record({
          tenant: principal.tenant, ...actorFields(actor), action: 'link.revoked', outcome: 'allowed', recordingId: revoked.link.recordingId, linkId: revoked.link.id,
          details: { alreadyRevoked: revoked.alreadyRevoked },
        }, trx);
      });
    },
  };
}
