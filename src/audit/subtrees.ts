import type { Knex } from 'knex';
import { inclusionProof, type SubtreeRef, type SubtreeStore } from './merkle.js';

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

/** Records what a proof asks for and answers placeholders: the first pass of batchInclusionProofs. */
class RefCollector implements SubtreeStore {
  readonly refs: SubtreeRef[] = [];
  getSubtrees(refs: readonly SubtreeRef[]): Promise<readonly Buffer[]> {
    this.refs.push(...refs);
    return Promise.resolve(refs.map(() => PLACEHOLDER));
  }
}

const PLACEHOLDER = Buffer.alloc(32);

/**
 * The inclusion proofs of many leaves in the tree of `size` with one fetch from `store`: the
 * subtrees every proof needs are collected first, fetched together, then the proofs are folded.
 */
export async function batchInclusionProofs(store: SubtreeStore, indexes: readonly number[], size: number): Promise<Buffer[][]> {
  const collector = new RefCollector();
  for (const index of indexes) await inclusionProof(collector, index, size);
  const unique = [...new Map(collector.refs.map((r) => [`${r.level}/${r.index}`, r])).values()];
  const hashes = await store.getSubtrees(unique);
  const known = new Map(unique.map((r, i) => [`${r.level}/${r.index}`, hashes[i]!]));
  const memo: SubtreeStore = { getSubtrees: (refs) => Promise.resolve(refs.map((r) => known.get(`${r.level}/${r.index}`)!)) };
  return Promise.all(indexes.map((index) => inclusionProof(memo, index, size)));
}
