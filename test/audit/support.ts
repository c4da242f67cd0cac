import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/knex.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import type { AuditEventInput, AuditMetrics } from '../../src/audit/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/cluster.js';

/** AUDIT_NAMESPACE of the tests' per-tenant logs. */
export const NAMESPACE = 'callvault.example.com/test';

export interface AuditFixture {
  readonly tdb: TestDatabase;
  /** Service role, as the running vault connects. */
  readonly db: Db;
  readonly store: FsObjectStore;
  readonly dir: string;
  readonly keyFile: string;
  close(): Promise<void>;
}

export async function auditFixture(): Promise<AuditFixture> {
  const tdb = await createTestDatabase();
  const db = createDb({ url: tdb.url, poolMax: 12 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'callvault-audit-'));
  const store = new FsObjectStore({ root: path.join(dir, 'objects') });
  return {
    tdb, db, store, dir, keyFile: path.join(dir, 'secrets', 'audit-anchor-ed25519.pem'),
    close: async () => {
      await db.destroy();
      await tdb.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs SQL on a fresh connection (e.g. as the superuser playing an attacker). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export function event(n: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    tenant: 'acme', actorSub: `user-${n}`, actorRole: 'supervisor', action: 'recording.viewed', outcome: 'allowed',
    recordingId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, ip: '203.0.113.7', userAgent: 'test/1.0',
    requestId: `req-${n}`, details: { n, nested: { b: 1, a: [1, 'x', null] } }, ...over,
  };
}

export class CountingMetrics implements AuditMetrics {
  writtenCount = 0;
  failedCount = 0;
  droppedCount = 0;
  written(n: number): void { this.writtenCount += n; }
  failed(): void { this.failedCount += 1; }
  deniedDropped(): void { this.droppedCount += 1; }
}
