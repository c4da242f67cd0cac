import { hash as cryptoHash } from 'node:crypto';
import { EMPTY_ROOT } from './merkle.js';

/**
 * The RFC 9162 root of a log read leaf by leaf, in memory that grows with log2 of its size: the
 * hashes of the perfect subtrees that make up the leaves so far, one per set bit of the size,
 * largest (leftmost) first. Appending a leaf pushes it and merges equal-sized neighbours, as a
 * binary counter carries; the root folds the stack from the right, as `rootHash` folds the
 * stored subtrees of the same range. An offline verifier thus recomputes the root of a
 * million-event export with at most 20 hashes held.
 */
export class RootAccumulator {
  readonly #hashes: Buffer[] = [];
  readonly #levels: number[] = [];
  #size = 0;
  /** 0x01 || left || right, reused: nodeHash without its allocations, for the million-leaf case. */
  readonly #node = Buffer.alloc(65, 0x01);

  #nodeHash(left: Buffer, right: Buffer): Buffer {
    left.copy(this.#node, 1);
    right.copy(this.#node, 33);
    return cryptoHash('sha256', this.#node, 'buffer');
  }

  get size(): number {
    return this.#size;
  }

  append(leaf: Buffer): void {
    let hash = leaf;
    let level = 0;
    while (this.#levels.length > 0 && this.#levels[this.#levels.length - 1] === level) {
      this.#levels.pop();
      hash = this.#nodeHash(this.#hashes.pop()!, hash);
      level += 1;
    }
    this.#hashes.push(hash);
    this.#levels.push(level);
    this.#size += 1;
  }

  /** MTH of the leaves appended so far. */
  root(): Buffer {
    let acc = this.#hashes[this.#hashes.length - 1];
    if (acc === undefined) return EMPTY_ROOT;
    for (let i = this.#hashes.length - 2; i >= 0; i -= 1) acc = this.#nodeHash(this.#hashes[i]!, acc);
    return acc;
  }
}
