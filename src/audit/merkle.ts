import { createHash, hash as cryptoHash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, inclusion and consistency proofs.
 *
 * Proofs are generated from a store of perfect subtree hashes rather than from the leaves: the
 * subtree at `(level, index)` covers leaves `[index * 2^level, (index + 1) * 2^level)`. Every
 * range the RFC's PATH and SUBPROOF recursions name starts at a multiple of the largest power
 * of two not above its size, so its hash folds from at most log2(n) stored subtrees. A proof
 * therefore costs O(log² n) stored hashes, fetched in one batch, whatever the size of the log.
 *
 * Tree sizes and indexes are JavaScript numbers (safe integers); shifts are done arithmetically
 * because bitwise operators would truncate them to 32 bits.
 */

export const HASH_BYTES = 32;

/** A perfect subtree: leaves `[index * 2^level, (index + 1) * 2^level)`. */
export interface SubtreeRef {
  readonly level: number;
  readonly index: number;
}

export interface SubtreeStore {
  /** The hashes of the given complete subtrees, in the order asked. */
  getSubtrees(refs: readonly SubtreeRef[]): Promise<readonly Buffer[]>;
}

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function leafHash(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x00)).update(entry).digest();
}

const NODE_PREFIX = Buffer.of(0x01);

/** One-shot hash of one buffer: node hashes are most of the work of recomputing a large tree. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return cryptoHash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

function assertSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

/** The largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The perfect subtrees that make up the range [start, end), largest (leftmost) first. */
export function rangeSubtrees(start: number, end: number): SubtreeRef[] {
  const refs: SubtreeRef[] = [];
  let at = start;
  while (at < end) {
    let size = 1;
    let level = 0;
    while (size * 2 <= end - at) { size *= 2; level += 1; }
    if (at % size !== 0) throw new RangeError(`range [${start}, ${end}) is not aligned`);
    refs.push({ level, index: at / size });
    at += size;
  }
  return refs;
}

/** MTH of a range from the hashes of its perfect subtrees: the right spine folds first. */
function foldRange(hashes: readonly Buffer[]): Buffer {
  let acc = hashes[hashes.length - 1];
  if (acc === undefined) return EMPTY_ROOT;
  for (let i = hashes.length - 2; i >= 0; i -= 1) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

interface Range { readonly start: number; readonly end: number }

/** RFC 9162 §2.1.3.1 PATH(m, D[n]), as the ranges whose MTH forms the proof, leaf upwards. */
function pathRanges(m: number, start: number, end: number): Range[] {
  const n = end - start;
  if (n <= 1) return [];
  const k = splitPoint(n);
  return m < k
    ? [...pathRanges(m, start, start + k), { start: start + k, end }]
    : [...pathRanges(m - k, start + k, end), { start, end: start + k }];
}

/** RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b), as ranges. */
function subproofRanges(m: number, start: number, end: number, complete: boolean): Range[] {
  const n = end - start;
  if (m === n) return complete ? [] : [{ start, end }];
  const k = splitPoint(n);
  return m <= k
    ? [...subproofRanges(m, start, start + k, complete), { start: start + k, end }]
    : [...subproofRanges(m - k, start + k, end, false), { start, end: start + k }];
}

async function resolveRanges(store: SubtreeStore, ranges: readonly Range[]): Promise<Buffer[]> {
  const perRange = ranges.map((r) => rangeSubtrees(r.start, r.end));
  const hashes = await store.getSubtrees(perRange.flat());
  if (hashes.length !== perRange.reduce((sum, refs) => sum + refs.length, 0)) throw new Error('subtree store answered the wrong number of hashes');
  let at = 0;
  return perRange.map((refs) => {
    const slice = hashes.slice(at, at + refs.length);
    at += refs.length;
    return foldRange(slice);
  });
}

/** The root hash of the first `size` leaves. */
export async function rootHash(store: SubtreeStore, size: number): Promise<Buffer> {
  assertSize('size', size);
  if (size === 0) return EMPTY_ROOT;
  const [root] = await resolveRanges(store, [{ start: 0, end: size }]);
  return root!;
}

/** The audit path of leaf `index` in the tree of the first `size` leaves. */
export async function inclusionProof(store: SubtreeStore, index: number, size: number): Promise<Buffer[]> {
  assertSize('size', size);
  assertSize('index', index);
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  return resolveRanges(store, pathRanges(index, 0, size));
}

/** The proof that the tree of size `first` is a prefix of the tree of size `second`. */
export async function consistencyProof(store: SubtreeStore, first: number, second: number): Promise<Buffer[]> {
  assertSize('first', first);
  assertSize('second', second);
  if (first > second) throw new RangeError(`first size ${first} exceeds second size ${second}`);
  if (first === 0 || first === second) return [];
  return resolveRanges(store, subproofRanges(first, 0, second, true));
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

function wellFormed(proof: readonly Uint8Array[], ...hashes: Uint8Array[]): boolean {
  return [...proof, ...hashes].every((h) => h.length === HASH_BYTES);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** RFC 9162 §2.1.3.2: does `proof` show the leaf with hash `leaf` at `index` under `root`? */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!wellFormed(proof, leaf, root)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/** RFC 9162 §2.1.4.2: is the tree (`second`, `secondRoot`) an append-only extension of (`first`, `firstRoot`)? */
export function verifyConsistency(
  first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  if (!wellFormed(proof, firstRoot, secondRoot)) return false;
  if (first === second) return proof.length === 0 && sameHash(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0 && sameHash(firstRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  // A first tree of 2^j leaves is itself a node of the second tree: the proof omits its hash.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (isOdd(fn)) { fn = half(fn); sn = half(sn); }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, firstRoot) && sameHash(sr, secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
