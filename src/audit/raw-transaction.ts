import type { Knex } from 'knex';

/** The parts of a pg client the audit writers use; knex's pool hands out pg clients. */
export interface RawConnection {
  query<R = unknown>(text: string, values?: readonly unknown[]): Promise<R>;
}

/**
 * Runs `work` in a transaction on a connection taken straight from the pool, for writers that
 * hold a lock from their first statement to COMMIT: each round trip is time the lock is held, so
 * `work` sends `begin` (BEGIN and the lock timeout) in front of its first statement rather than
 * alone. Resolves after COMMIT; on any failure rolls back, and the connection always goes back.
 */
export async function inRawTransaction<T>(db: Knex, lockTimeoutMs: number, work: (conn: RawConnection, begin: string) => Promise<T>): Promise<T> {
  const conn = (await db.client.acquireConnection()) as RawConnection;
  let open = true;
  try {
    const result = await work(conn, `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}; `);
    await conn.query('COMMIT');
    open = false;
    return result;
  } finally {
    if (open) await conn.query('ROLLBACK').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}
