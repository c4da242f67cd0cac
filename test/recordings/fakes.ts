/**
 * In-memory stand-ins for what the ingest service takes (src/ingest/ingest.ts IngestDeps),
 * for service-level tests of its decisions without PostgreSQL, a store or a key service. The
 * real-server suites (ingest.test.ts, test/faults) cover the real clients.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AuditEventInput } from '../../src/audit/types.js';
import { parseIsoDuration, type IsoDuration } from '../../src/config/duration.js';
import type { Trx } from '../../src/db/knex.js';
import { IngestService, type IngestDeps, type IngestSettings } from '../../src/ingest/ingest.js';
import type { NewRecording } from '../../src/recordings/store.js';
import type { Recording } from '../../src/recordings/types.js';
import type { UploadLease } from '../../src/recordings/uploads-in-progress.js';
import { wavHeader } from '../helpers/audio.js';

export function wav(seed: number, dataBytes = 256): Buffer {
  return Buffer.concat([wavHeader(dataBytes), Buffer.alloc(dataBytes, seed)]);
}

export class FakeObjectStore {
  readonly objects = new Map<string, Buffer>();
  objectLock = false;
  readonly retainUntil = new Map<string, Date | undefined>();

  async put(key: string, body: Readable | Buffer, opts?: { retainUntil?: Date }): Promise<{ sizeBytes: number }> {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(body)) chunks.push(body);
    else for await (const chunk of body) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    this.objects.set(key, bytes);
    this.retainUntil.set(key, opts?.retainUntil);
    return { sizeBytes: bytes.length };
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

/** The recordings table, unique on (tenant, callId); `unreachable` makes lookups fail. */
export class FakeRecordingStore {
  readonly rows = new Map<string, Recording>();
  unreachable: Error | null = null;
  failInsert: Error | null = null;

  async insert(r: NewRecording): Promise<Recording | null> {
    if (this.failInsert) throw this.failInsert;
    if (this.rows.has(`${r.tenant}/${r.callId}`)) return null;
    const row: Recording = {
      ...r, tags: [...r.tags], status: 'active', legalHold: r.legalHold ?? false, legalHoldReason: null, legalHoldCaseId: null,
      createdAt: new Date(), deletedAt: null, deletionReason: null, received: r.received ?? null, dtmfSpans: r.dtmfSpans ?? null,
      version: 1, redactedAt: null,
    };
    this.rows.set(`${r.tenant}/${r.callId}`, row);
    return row;
  }

  async findByCallId(tenant: string, callId: string): Promise<Recording | null> {
    if (this.unreachable) throw this.unreachable;
    return this.rows.get(`${tenant}/${callId}`) ?? null;
  }

  /** A recording this callId held before and that was since erased. */
  erase(tenant: string, callId: string): void {
    const row = this.rows.get(`${tenant}/${callId}`);
    if (row) this.rows.set(`${tenant}/${callId}`, { ...row, status: 'deleted', objectKey: null, deletedAt: new Date() });
  }
}

export class FakeAuditLog {
  readonly events: AuditEventInput[] = [];
  readonly denied: AuditEventInput[] = [];

  async record(event: AuditEventInput): Promise<void> {
    this.events.push(event);
  }

  async recordDenied(event: AuditEventInput): Promise<void> {
    this.denied.push(event);
  }
}

export class FakeKeyProvider {
  generated = 0;

  async generateDataKey(): Promise<{ plaintext: Buffer; wrapped: Buffer; keyRef: string }> {
    this.generated++;
    return { plaintext: randomBytes(32), wrapped: randomBytes(60), keyRef: 'fake:v1' };
  }
}

/** Every policy keeps recordings for `retain`; `resolved` counts the lookups. */
export class FakePolicyStore {
  resolved = 0;
  constructor(private readonly retain: IsoDuration) {}

  async resolve(_tenant: string, name: string | null): Promise<{ name: string; retain: IsoDuration; tenantKmsKeyId: null; dtmf: 'keep'; dtmfFill: 'silence' }> {
    this.resolved++;
    return { name: name ?? 'default', retain: this.retain, tenantKmsKeyId: null, dtmf: 'keep', dtmfFill: 'silence' };
  }
}

export class FakeUploadRegistry {
  readonly live = new Set<string>();

  async register(objectKey: string): Promise<UploadLease> {
    this.live.add(objectKey);
    return { objectKey, stop: () => undefined, fresh: () => false };
  }

  async renew(objectKey: string): Promise<boolean> {
    return this.live.has(objectKey);
  }

  async finish(objectKey: string): Promise<boolean> {
    return this.live.delete(objectKey);
  }

  async release(objectKey: string): Promise<void> {
    this.live.delete(objectKey);
  }
}

/**
 * How the next COMMIT ends: `rolled-back` (the connection failed and nothing was kept),
 * `reply-lost` (committed, but the client never heard), `down` (committed, the reply lost, and
 * the database unreachable from then on). Each time the caller sees a connection failure.
 */
export type CommitFault = 'rolled-back' | 'reply-lost' | 'down' | null;

/** One transaction at a time, rolled back by restoring the rows and events it started with. */
export class FakeDatabase {
  commitFault: CommitFault = null;

  constructor(private readonly recordings: FakeRecordingStore, private readonly audit: FakeAuditLog) {}

  async transaction<T>(work: (trx: Trx) => Promise<T>): Promise<T> {
    const rows = new Map(this.recordings.rows);
    const events = this.audit.events.length;
    const rollBack = (): void => {
      this.recordings.rows.clear();
      for (const [k, v] of rows) this.recordings.rows.set(k, v);
      this.audit.events.length = events;
    };
    let result: T;
    try {
      result = await work({} as Trx);
    } catch (err) {
      rollBack();
      throw err;
    }
    const fault = this.commitFault;
    this.commitFault = null;
    if (fault === 'rolled-back') rollBack();
    if (fault === 'down') this.recordings.unreachable = connectionLost();
    if (fault) throw connectionLost();
    return result;
  }
}

function connectionLost(): Error {
  return Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
}

export interface FakeIngest {
  readonly service: IngestService;
  readonly store: FakeObjectStore;
  readonly recordings: FakeRecordingStore;
  readonly audit: FakeAuditLog;
  readonly keys: FakeKeyProvider;
  readonly uploads: FakeUploadRegistry;
  readonly policies: FakePolicyStore;
  readonly db: FakeDatabase;
}

/** An ingest service over fakes: every policy keeps recordings for 30 days. */
export function createFakeIngest(settings: Partial<IngestSettings> = {}): FakeIngest {
  const recordings = new FakeRecordingStore();
  const audit = new FakeAuditLog();
  const retain = parseIsoDuration('P30D');
  if (!retain) throw new Error('P30D must parse');
  const fakes = {
    store: new FakeObjectStore(), recordings, audit, keys: new FakeKeyProvider(), uploads: new FakeUploadRegistry(),
    policies: new FakePolicyStore(retain), db: new FakeDatabase(recordings, audit),
  };
  const deps: IngestDeps = {
    ...fakes,
    keyVersions: { assertCommittable: async () => undefined },
    phones: { hash: (phone) => `hash:${phone}` },
  };
  return { ...fakes, service: new IngestService(deps, { maxBytes: 1024 * 1024, maxClockSkewMs: 300_000, commitOutcomeWaitMs: 0, ...settings }) };
}
