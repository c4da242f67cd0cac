import { EMPTY_ROOT, nodeHash, type SubtreeRef } from './merkle.js';

/**
 * The root of a growing RFC 9162 tree in O(log n) memory: only the right edge (one perfect
 * subtree hash per set bit of the size) is kept. For recomputing a log's root from its events
 * while streaming them.
 */
export class CompactMerkle {
  readonly #edge = new Map<number, Buffer>();
  #size = 0;

  /** The tree of `size` leaves whose right edge is `edge` (level, hash): one entry per set bit of size. */
  static restore(size: number, edge: readonly (readonly [number, Buffer])[]): CompactMerkle {
    const tree = new CompactMerkle();
    for (const [level, hash] of edge) tree.#edge.set(level, hash);
    tree.#size = size;
    return tree;
  }

  get size(): number {
    return this.#size;
  }

  append(leaf: Buffer): void {
    let hash = leaf;
    let level = 0;
    let index = this.#size;
    while (index % 2 === 1) {
      hash = nodeHash(this.#edge.get(level)!, hash);
      this.#edge.delete(level);
      level += 1;
      index = (index - 1) / 2;
    }
    this.#edge.set(level, hash);
    this.#size += 1;
  }

  /** MTH of the leaves appended so far: the edge folded from its smallest subtree leftwards. */
  root(): Buffer {
    let acc: Buffer | undefined;
    for (const level of [...this.#edge.keys()].sort((a, b) => a - b)) {
      const hash = this.#edge.get(level)!;
      acc = acc ? nodeHash(hash, acc) : hash;
    }
    return acc ?? EMPTY_ROOT;
  }
}

/** A CompactMerkle already holding the first `size` leaves, from the perfect subtrees of [0, size) (rangeSubtrees order). */
export function compactFromSubtrees(size: number, refs: readonly SubtreeRef[], hashes: readonly Buffer[]): CompactMerkle {
  return CompactMerkle.restore(size, refs.map((r, i) => [r.level, hashes[i]!] as const));
}
