import type { Knex } from 'knex';
import type { SubtreeRef, SubtreeStore } from './merkle.js';

/** A subtree that the table does not hold: the tree asked for is larger than the log. */
export class MissingSubtreeError extends Error {}

/**
 * The stored subtree hashes of one log (audit_subtrees), which the writer inserts in the same
 * transaction as the events. Every root or proof is one query by primary key, whatever the size
 * of the log. The rows are a cache the verifier never trusts: a wrong one makes a proof fail
 * against the signed root.
 */
export class PgSubtreeStore implements SubtreeStore {
  constructor(private readonly db: Knex, private readonly logId: number) {}

  async getSubtrees(refs: readonly SubtreeRef[]): Promise<readonly Buffer[]> {
    if (refs.length === 0) return [];
    const result = await this.db.raw<{ rows: { level: number; index: string; hash: Buffer }[] }>(
      `SELECT s.level, s.index::text AS index, s.hash
         FROM unnest(?::smallint[], ?::bigint[]) AS r(level, index)
         JOIN audit_subtrees s ON s.log_id = ? AND s.level = r.level AND s.index = r.index`,
      [refs.map((r) => r.level), refs.map((r) => r.index), this.logId],
    );
    const found = new Map(result.rows.map((row) => [`${row.level}/${row.index}`, row.hash]));
    return refs.map(({ level, index }) => {
      const hash = found.get(`${level}/${index}`);
      if (!hash) throw new MissingSubtreeError(`subtree (level ${level}, index ${index}) of log ${this.logId} is not stored`);
      return hash;
    });
  }
}
