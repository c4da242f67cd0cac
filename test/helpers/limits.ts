/**
 * The shared request limits (src/guards/limits.ts) on a database of their own, as the service
 * role, for tests of the guards without a whole vault. The limits compute their windows from
 * Date.now() and PostgreSQL only stores them, so a test may mock Date to move time.
 */
import pg from 'pg';
import { Limits } from '../../src/guards/index.js';
import { createTestDatabase, type TestDatabase } from './cluster.js';

export interface TestLimits {
  readonly limits: Limits;
  readonly pool: pg.Pool;
  readonly database: TestDatabase;
  /** What the limits reported as database outages. */
  readonly storeErrors: unknown[];
  /** Forgets every counter. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function testLimits(): Promise<TestLimits> {
  const database = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const storeErrors: unknown[] = [];
  return {
    limits: new Limits(pool, (err) => storeErrors.push(err)), pool, database, storeErrors,
    reset: async () => { await pool.query('DELETE FROM rate_limits'); },
    close: async () => {
      await pool.end();
      await database.drop();
    },
  };
}

/** Limits whose database refuses every connection (nothing listens on port 1). */
export function unreachableLimits(): { readonly limits: Limits; readonly storeErrors: unknown[]; close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: 'postgres://nobody:nothing@127.0.0.1:1/none', connectionTimeoutMillis: 1_000 });
  pool.on('error', () => undefined);
  const storeErrors: unknown[] = [];
  return { limits: new Limits(pool, (err) => storeErrors.push(err)), storeErrors, close: () => pool.end() };
}
