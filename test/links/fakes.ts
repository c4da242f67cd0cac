/**
 * In-memory doubles for the redemption service (src/links/redeem.ts): a link store whose clock
 * is the test's, standing for the database clock; a recordings lookup; an audit log that keeps
 * what it was given; and a lockout counter.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../../src/audit/types.js';
import { SUPERSEDED_REVOKER, type Link, type LinkState, type LinkStore, type LinkVerdict } from '../../src/links/store.js';
import type { Recording } from '../../src/recordings/types.js';

/** The database clock of the fake store, in Unix milliseconds; tests move it. */
export interface FakeClock { now: number }

export interface FakeLinkStore extends Pick<LinkStore, 'inspect' | 'claim'> {
  add(link: Omit<Partial<Link>, 'expiresAt'> & { recordingId: string; tenant: string; ttlSeconds?: number }): Link;
  revoke(id: string, by?: string): void;
  get(id: string): Link | undefined;
}

export function createFakeLinkStore(clock: FakeClock): FakeLinkStore {
  const rows = new Map<string, Link>();
  const find = (tenant: string, id: string): Link | undefined => {
    const row = rows.get(id);
    return row?.tenant === tenant ? row : undefined;
  };
  const verdictOf = (l: Link, fingerprint: string): LinkVerdict => {
    if (l.revokedAt) return l.revokedBy === SUPERSEDED_REVOKER ? 'superseded' : 'revoked';
    if (l.expiresAt.getTime() <= clock.now) return 'expired';
    if (l.singleUse && l.firstUsedBy !== null && l.firstUsedBy !== fingerprint) return 'used';
    return 'usable';
  };
  return {
    add(input) {
      const now = new Date(clock.now);
      const link: Link = {
        id: input.id ?? randomUUID(), tenant: input.tenant, recordingId: input.recordingId, issuedBy: input.issuedBy ?? 'sup-1',
        reason: input.reason ?? 'review', singleUse: input.singleUse ?? false, expiresAt: new Date(clock.now + (input.ttlSeconds ?? 300) * 1000),
        revokedAt: null, revokedBy: null, firstUsedAt: null, firstUsedBy: null, createdAt: now, purpose: 'play',
      };
      rows.set(link.id, link);
      return link;
    },
    revoke(id, by = 'sup-1') {
      const row = rows.get(id);
      if (row) rows.set(id, { ...row, revokedAt: new Date(clock.now), revokedBy: by });
    },
    get: (id) => rows.get(id),
    async inspect(tenant, id, fingerprint): Promise<LinkState | null> {
      const link = find(tenant, id);
      return link ? { link, verdict: verdictOf(link, fingerprint) } : null;
    },
    async claim(tenant, id, fingerprint, alongside) {
      const link = find(tenant, id);
      if (!link) return null;
      const verdict = verdictOf(link, fingerprint);
      if (verdict !== 'usable') return verdict;
      // As in the transaction: a failure alongside leaves the link as it was.
      await alongside();
      rows.set(id, { ...link, firstUsedAt: link.firstUsedAt ?? new Date(clock.now), firstUsedBy: link.firstUsedBy ?? fingerprint });
      return 'usable';
    },
  };
}

export function fakeRecording(tenant: string, over: Partial<Recording> = {}): Recording {
  return {
    id: randomUUID(), tenant, callId: 'call-1', status: 'active', objectKey: 'k', sha256: 'a'.repeat(64), sizeBytes: 4096,
    contentType: 'audio/wav', segmentSize: null, cryptoHeader: null, wrappedKey: null, keyRef: null, policy: null, retainUntil: null,
    uploadedBy: 'pbx', legalHold: false, legalHoldReason: null, legalHoldCaseId: null, createdAt: new Date(0), deletedAt: null,
    deletionReason: null, startedAt: null, durationSeconds: null, direction: null, from: null, to: null, agentId: null, tags: [],
    received: null, dtmfSpans: null, version: 1, redactedAt: null, ...over,
  };
}

export function createFakeRecordings(...recordings: Recording[]): { findActive(tenant: string, id: string): Promise<Recording | null> } {
  return {
    async findActive(tenant, id) {
      return recordings.find((r) => r.tenant === tenant && r.id === id && r.status === 'active') ?? null;
    },
  };
}

export interface FakeAudit {
  readonly events: AuditEventInput[];
  readonly denied: AuditEventInput[];
  /** When set, `record` fails with it, as the real log does when it cannot write. */
  failWith: Error | null;
  record(event: AuditEventInput): Promise<void>;
  recordDenied(event: AuditEventInput): Promise<void>;
}

export function createFakeAudit(): FakeAudit {
  const audit: FakeAudit = {
    events: [], denied: [], failWith: null,
    async record(event) {
      if (audit.failWith) throw audit.failWith;
      audit.events.push(event);
    },
    async recordDenied(event) {
      audit.denied.push(event);
    },
  };
  return audit;
}
