import { nodeHash, type SubtreeRef, type SubtreeStore } from './merkle.js';

/**
 * A subtree store held in memory: every complete perfect subtree, level by level, as leaves
 * are appended. It serves proofs over a log read whole, e.g. an export being verified offline,
 * and is the reference for a table-backed store, which keeps the same (level, index, hash) rows.
 */
export class MemorySubtreeStore implements SubtreeStore {
  readonly #levels: Buffer[][] = [[]];

  get size(): number {
    return this.#levels[0]!.length;
  }

  /**
   * Appends one leaf hash. Appending leaf i completes one subtree per trailing one bit of i:
   * each is its left sibling (already stored) joined with the subtree just completed.
   */
  append(leaf: Buffer): void {
    let level = 0;
    let index = this.size;
    let hash = leaf;
    this.#levels[0]!.push(hash);
    while (index % 2 === 1) {
      const left = this.#levels[level]![index - 1]!;
      hash = nodeHash(left, hash);
      level += 1;
      index = (index - 1) / 2;
      (this.#levels[level] ??= []).push(hash);
    }
  }

  getSubtrees(refs: readonly SubtreeRef[]): Promise<readonly Buffer[]> {
    return new Promise((resolve) => {
      resolve(refs.map(({ level, index }) => {
        const hash = this.#levels[level]?.[index];
        if (hash === undefined) throw new RangeError(`subtree (level ${level}, index ${index}) is not complete`);
        return hash;
      }));
    });
  }
}
