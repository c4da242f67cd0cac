import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type Db = Knex;
export type Trx = Knex.Transaction;

// bigint columns (sizes, audit seq) fit in a JS number for every value the vault produces.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v));

export interface DbOptions {
  readonly url: string;
  readonly poolMax?: number;
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  readonly applicationName?: string;
}

export function createDb(opts: DbOptions): Db {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: opts.url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      application_name: opts.applicationName ?? 'callvault',
      // Audit hashes and retention dates must not depend on a session's zone or date style.
      options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601',
    },
    pool: {
      min: 0,
      max: opts.poolMax ?? 10,
      acquireTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      createTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
    },
    acquireConnectionTimeout: opts.connectTimeoutMs ?? 5_000,
  });
}

/**
 * True for errors that mean "the database is unreachable, restarting, overloaded or did not answer
 * within DATABASE_STATEMENT_TIMEOUT_MS", not "the query is wrong": SQLSTATE classes 08 (connection)
 * and 53 (insufficient resources), 57P (shutdown, crash), 57014 (statement timeout) and 55P03
 * (lock timeout). A client may retry all of them.
 */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (/^(?:08|53|57P)/.test(code) || ['57014', '55P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code))) return true;
  return /Connection terminated|Knex: Timeout acquiring a connection|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(err.message);
}
