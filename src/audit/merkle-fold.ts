import { hash as cryptoHash } from 'node:crypto';
import { EMPTY_ROOT } from './merkle.js';

/**
 * CompactMerkle's root for a stream of a million leaves, as the offline verifier needs it. The
 * hashes are binary (latin1) strings, not Buffers: node's one-shot hash returns a string for a
 * fraction of what a Buffer costs, and the node input is written into one reused 65-byte buffer,
 * so appending a leaf allocates nothing but the hash it keeps. The same tree as CompactMerkle
 * (RFC 9162 MTH, test/audit/log-verify.test.ts compares them).
 */
export class MerkleFold {
  /** The right edge: at index `level`, the root of a perfect subtree of 2^level leaves, when that bit of size is set. */
  readonly #edge: (string | undefined)[] = [];
  readonly #node = Buffer.alloc(65);
  #size = 0;

  constructor() {
    this.#node[0] = 0x01;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends the leaf hash (32 bytes as a latin1 string). */
  append(leaf: string): void {
    let hash = leaf;
    let level = 0;
    for (let index = this.#size; index % 2 === 1; index = (index - 1) / 2) {
      hash = this.#nodeHash(this.#edge[level]!, hash);
      this.#edge[level] = undefined;
      level += 1;
    }
    this.#edge[level] = hash;
    this.#size += 1;
  }

  /** MTH of the leaves appended so far: the edge folded from its smallest subtree leftwards. */
  root(): Buffer {
    let acc: string | undefined;
    for (const hash of this.#edge) if (hash !== undefined) acc = acc === undefined ? hash : this.#nodeHash(hash, acc);
    return acc === undefined ? EMPTY_ROOT : Buffer.from(acc, 'latin1');
  }

  #nodeHash(left: string, right: string): string {
    this.#node.write(left, 1, 32, 'latin1');
    this.#node.write(right, 33, 32, 'latin1');
    return cryptoHash('sha256', this.#node, 'binary');
  }
}
