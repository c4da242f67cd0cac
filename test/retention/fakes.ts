/**
 * In-memory doubles of what a retention pass uses (RetentionDeps), for service-level tests of
 * its decisions without a database or an object store. The recordings double keeps the rules of
 * src/recordings/lifecycle-queries.ts: claims lease rows to an owner, a lease whose owner no
 * longer holds its liveness lock is abandoned, and key destruction and tombstones only touch
 * rows still leased to the caller. Every step is written to `log`, in order.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../../src/audit/types.js';
import { parseIsoDuration } from '../../src/config/duration.js';
import type { Trx } from '../../src/db/knex.js';
import type { ClaimOwner } from '../../src/db/locks.js';
import type { ClaimedRecording, DueRecording } from '../../src/recordings/lifecycle-queries.js';
import { RECORDING_STATUS, type RecordingStatus } from '../../src/recordings/status.js';
import type { RetentionDeps, RetentionRecordings } from '../../src/retention/types.js';
import type { StoredObjectInfo } from '../../src/storage/types.js';

export interface FakeRow {
  readonly id: string; readonly tenant: string; readonly callId: string; objectKey: string | null; readonly sha256: string;
  keyRef: string | null; wrappedKey: Buffer | null; readonly policy: string | null; retainUntil: Date | null;
  status: RecordingStatus; legalHold: boolean; leaseOwner: string | null; leaseKey: number | null; leaseUntil: number | null;
  kind: 'retention' | 'erasure' | null; requestedBy: string | null;
}

type Ref = { readonly tenant: string; readonly id: string };

export class FakeRecordings implements RetentionRecordings {
  readonly rows = new Map<string, FakeRow>();
  private readonly live = new Set<number>();

  constructor(private readonly log: string[], private readonly clock: () => number = Date.now) {}

  /** The orphan sweep's question about peaks objects (src/retention/peaks-sweep.ts). */
  async liveRecordings(ids: readonly string[]): Promise<Set<string>> {
    return new Set(ids.map((id) => this.rows.get(id)).filter((r) => r && r.status !== RECORDING_STATUS.deleted).map((r) => `${r?.tenant}/${r?.id}`));
  }

  add(fields: Partial<FakeRow> & { retainUntil: Date | null }): FakeRow {
    const id = fields.id ?? randomUUID();
    const row: FakeRow = {
      id, tenant: 'acme', callId: `call-${id}`, objectKey: `recordings/acme/${id}`, sha256: 'a'.repeat(64), keyRef: 'local:v1',
      wrappedKey: randomBytes(61), policy: 'short', status: RECORDING_STATUS.active, legalHold: false, leaseOwner: null,
      leaseKey: null, leaseUntil: null, kind: null, requestedBy: null, ...fields,
    };
    this.rows.set(id, row);
    return row;
  }

  async holdClaimLiveness(who: ClaimOwner) {
    if (who.key !== null) this.live.add(who.key);
    return { release: async () => { if (who.key !== null) this.live.delete(who.key); } };
  }

  async claimDue(who: ClaimOwner, now: Date, limit: number, leaseSeconds: number, by: string): Promise<ClaimedRecording[]> {
    const due = [...this.rows.values()].filter((r) => this.isDue(r, now))
      .sort((a, b) => (a.retainUntil?.getTime() ?? 0) - (b.retainUntil?.getTime() ?? 0)).slice(0, limit);
    return due.map((r) => this.lease(r, who, leaseSeconds, { kind: 'retention', requestedBy: by }));
  }

  async reclaimAbandoned(who: ClaimOwner, limit: number, leaseSeconds: number): Promise<ClaimedRecording[]> {
    const abandoned = [...this.rows.values()].filter((r) => this.isAbandoned(r) && r.leaseOwner !== who.owner).slice(0, limit);
    return abandoned.map((r) => this.lease(r, who, leaseSeconds, {}));
  }

  async stillClaimed(who: ClaimOwner, rows: readonly Ref[]): Promise<Set<string>> {
    return new Set(this.owned(who, rows).filter((r) => !r.legalHold).map((r) => r.id));
  }

  async* listDue(now: Date): AsyncGenerator<DueRecording> {
    for (const r of this.rows.values()) if (this.isDue(r, now)) yield { ...this.ref(r), inProgress: false };
    for (const r of this.rows.values()) if (this.isAbandoned(r)) yield { ...this.ref(r), inProgress: true };
  }

  async countHeldDue(now: Date): Promise<number> {
    return [...this.rows.values()].filter((r) => r.status === RECORDING_STATUS.active && r.legalHold && this.overdue(r, now)).length;
  }

  async oldestOverdue(now: Date): Promise<Date | null> {
    const times = [...this.rows.values()].filter((r) => r.status !== RECORDING_STATUS.deleted && !r.legalHold && this.overdue(r, now))
      .map((r) => r.retainUntil?.getTime() ?? Infinity);
    return times.length > 0 ? new Date(Math.min(...times)) : null;
  }

  async destroyKeys(who: ClaimOwner, rows: readonly Ref[]): Promise<void> {
    for (const r of this.owned(who, rows)) {
      this.log.push(`destroy-key ${r.id}`);
      r.wrappedKey = null;
    }
  }

  async tombstone(who: ClaimOwner, rows: readonly Ref[]): Promise<Set<string>> {
    const done = this.owned(who, rows);
    for (const r of done) {
      this.log.push(`tombstone ${r.id}`);
      Object.assign(r, { status: RECORDING_STATUS.deleted, objectKey: null, keyRef: null, wrappedKey: null, retainUntil: null, leaseOwner: null, leaseKey: null, leaseUntil: null });
    }
    return new Set(done.map((r) => r.id));
  }

  async referencedObjectKeys(ids: readonly string[]): Promise<Set<string | null>> {
    return new Set(ids.map((id) => this.rows.get(id)).filter((r) => r && r.status !== RECORDING_STATUS.deleted).map((r) => r?.objectKey ?? null));
  }

  private overdue(r: FakeRow, now: Date): boolean {
    return r.retainUntil !== null && r.retainUntil.getTime() <= now.getTime();
  }

  private isDue(r: FakeRow, now: Date): boolean {
    return r.status === RECORDING_STATUS.active && !r.legalHold && this.overdue(r, now);
  }

  private isAbandoned(r: FakeRow): boolean {
    if (r.status !== RECORDING_STATUS.deleting || r.legalHold) return false;
    return r.leaseUntil === null || r.leaseUntil < this.clock() || (r.leaseKey !== null && !this.live.has(r.leaseKey));
  }

  private owned(who: ClaimOwner, rows: readonly Ref[]): FakeRow[] {
    return rows.map((ref) => this.rows.get(ref.id))
      .filter((r): r is FakeRow => r !== undefined && rows.some((ref) => ref.id === r.id && ref.tenant === r.tenant))
      .filter((r) => r.status === RECORDING_STATUS.deleting && r.leaseOwner === who.owner);
  }

  private lease(r: FakeRow, who: ClaimOwner, leaseSeconds: number, set: Partial<FakeRow>): ClaimedRecording {
    Object.assign(r, { status: RECORDING_STATUS.deleting, leaseOwner: who.owner, leaseKey: who.key, leaseUntil: this.clock() + leaseSeconds * 1000, ...set });
    return {
      id: r.id, tenant: r.tenant, callId: r.callId, objectKey: r.objectKey, sha256: r.sha256, keyRef: r.keyRef, wrappedKey: r.wrappedKey,
      policy: r.policy, retainUntil: r.retainUntil, kind: r.kind ?? 'retention', note: null, requestedBy: r.requestedBy,
    };
  }

  private ref(r: FakeRow): Omit<DueRecording, 'inProgress'> {
    return { id: r.id, tenant: r.tenant, callId: r.callId, retainUntil: r.retainUntil };
  }
}

/**
 * An object store double: deletes are logged; keys in `failing` refuse to be deleted. Each delete
 * yields once before it settles, so `maxInFlight` shows how many a caller had running at once.
 */
export function createFakeObjectStore(log: string[]) {
  const failing = new Set<string>();
  const objects = new Map<string, StoredObjectInfo>();
  const concurrency = { inFlight: 0, maxInFlight: 0 };
  return {
    failing,
    objects,
    concurrency,
    async delete(key: string): Promise<void> {
      concurrency.maxInFlight = Math.max(concurrency.maxInFlight, ++concurrency.inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      concurrency.inFlight--;
      if (failing.has(key)) {
        log.push(`delete-object-failed ${key}`);
        throw new Error('storage unavailable');
      }
      log.push(`delete-object ${key}`);
      objects.delete(key);
    },
    async* list(prefix: string): AsyncGenerator<StoredObjectInfo> {
      for (const o of [...objects.values()]) if (o.key.startsWith(prefix)) yield o;
    },
  };
}

// The doubles take no notice of the transaction they are handed.
const FAKE_TRX = Object.freeze({}) as unknown as Trx;

/** RetentionDeps over the doubles above, with a log of every step and every audit event. */
export function createFakeRetentionDeps(opts: { clock?: () => number } = {}) {
  const log: string[] = [];
  const recordings = new FakeRecordings(log, opts.clock);
  const store = createFakeObjectStore(log);
  const events: AuditEventInput[] = [];
  const wiped: string[] = [];
  /** The recording ids of each recordMany call: events that commit together. */
  const auditCalls: string[][] = [];
  const audit = (event: AuditEventInput) => {
    log.push(`audit ${event.action} ${event.recordingId ?? ''}`);
    events.push(event);
  };
  /** Object keys of uploads still in progress somewhere. */
  const uploading = new Set<string>();
  const deps: RetentionDeps = {
    db: { transaction: async (fn) => fn(FAKE_TRX) },
    recordings,
    store,
    audit: {
      record: async (event) => { audit(event); },
      recordMany: async (batch) => {
        for (const event of batch) audit(event);
        auditCalls.push(batch.map((e) => e.recordingId ?? ''));
      },
    },
    keyCache: { delete: (cacheKey) => { wiped.push(cacheKey); } },
    uploads: {
      live: async (keys?: readonly string[]) => new Set((keys ?? [...uploading]).filter((k) => uploading.has(k))),
      dropExpired: async () => undefined, purgeExpired: async () => 0,
    },
    config: { retention: { interval: 'off', batchSize: 2, leaseSeconds: 60, orphanGrace: parseIsoDuration('PT1H') ?? assertNever() } },
  };
  return { deps, log, recordings, store, events, auditCalls, wiped, uploading };
}

function assertNever(): never {
  throw new Error('PT1H is a valid ISO duration');
}
