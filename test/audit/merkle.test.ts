import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import {
  EMPTY_ROOT, consistencyProof, inclusionProof, leafHash, nodeHash, rangeSubtrees, rootHash, verifyConsistency, verifyInclusion,
  type SubtreeRef, type SubtreeStore,
} from '../../src/audit/merkle.js';

/** The leaves of the Certificate Transparency reference tests (RFC 6962 implementation). */
const CT_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
/** Their tree heads for sizes 0..8, as published with those tests. */
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
/** [leaf index (0-based), tree size, audit path] from the same reference tests. */
const CT_INCLUSION: [number, number, string[]][] = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
/** [first size, second size, consistency proof] from the same reference tests. */
const CT_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

/** RFC 9162 §2.1.1 MTH, straight from the definition: the reference the store-based code must match. */
function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

function storeOf(leaves: readonly Buffer[]): MemorySubtreeStore {
  const store = new MemorySubtreeStore();
  for (const leaf of leaves) store.append(leaf);
  return store;
}

const CT_LEAVES = CT_INPUTS.map((h) => leafHash(unhex(h)));

/** Flips one bit of one byte of one of the hashes. */
function tampered(hashes: readonly Buffer[], which: number, byte: number): Buffer[] {
  return hashes.map((h, i) => {
    if (i !== which) return h;
    const copy = Buffer.from(h);
    copy[byte % copy.length]! ^= 0x01;
    return copy;
  });
}

/** Distinct leaves: with equal leaves, a proof for one position is honestly a proof for another. */
const leavesArb = (min: number, max: number): fc.Arbitrary<Buffer[]> =>
  fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: min, maxLength: max })
    .map((xs) => xs.map((x, i) => leafHash(Buffer.concat([Buffer.from(`${i}:`), x]))));

describe('RFC 9162 hashing', () => {
  test('leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right)', () => {
    assert.equal(hex(leafHash(Buffer.alloc(0))), createHash('sha256').update(Buffer.of(0)).digest('hex'));
    const [a, b] = [CT_LEAVES[1]!, CT_LEAVES[2]!];
    assert.equal(hex(nodeHash(a, b)), createHash('sha256').update(Buffer.of(1)).update(a).update(b).digest('hex'));
    assert.notEqual(hex(nodeHash(a, b)), hex(nodeHash(b, a)));
  });

  test('the Certificate Transparency reference roots for sizes 0..8', async () => {
    const store = new MemorySubtreeStore();
    assert.equal(hex(await rootHash(store, 0)), CT_ROOTS[0]);
    assert.equal(hex(EMPTY_ROOT), CT_ROOTS[0]);
    for (const [i, leaf] of CT_LEAVES.entries()) {
      store.append(leaf);
      assert.equal(hex(await rootHash(store, i + 1)), CT_ROOTS[i + 1], `size ${i + 1}`);
      assert.equal(hex(naiveRoot(CT_LEAVES.slice(0, i + 1))), CT_ROOTS[i + 1], `naive size ${i + 1}`);
    }
    for (let n = 0; n <= 8; n += 1) assert.equal(hex(await rootHash(store, n)), CT_ROOTS[n], `historic size ${n}`);
  });

  test('the reference inclusion proofs, generated and verified', async () => {
    const store = storeOf(CT_LEAVES);
    for (const [index, size, expected] of CT_INCLUSION) {
      const proof = await inclusionProof(store, index, size);
      assert.deepEqual(proof.map(hex), expected, `leaf ${index} of ${size}`);
      assert.ok(verifyInclusion(index, size, CT_LEAVES[index]!, proof, unhex(CT_ROOTS[size]!)));
      assert.ok(!verifyInclusion(index, size, CT_LEAVES[index]!, proof, unhex(CT_ROOTS[size - 1]!)));
    }
  });

  test('the reference consistency proofs, generated and verified', async () => {
    const store = storeOf(CT_LEAVES);
    for (const [first, second, expected] of CT_CONSISTENCY) {
      const proof = await consistencyProof(store, first, second);
      assert.deepEqual(proof.map(hex), expected, `${first} -> ${second}`);
      assert.ok(verifyConsistency(first, second, unhex(CT_ROOTS[first]!), unhex(CT_ROOTS[second]!), proof));
    }
  });
});

describe('proofs from stored subtrees', () => {
  test('root of every prefix equals the naive recursive root', async () => {
    await fc.assert(fc.asyncProperty(leavesArb(0, 70), async (leaves) => {
      const store = storeOf(leaves);
      for (let n = 0; n <= leaves.length; n += 1) assert.ok((await rootHash(store, n)).equals(naiveRoot(leaves.slice(0, n))));
    }), { numRuns: 60 });
  });

  test('every inclusion proof verifies, and fails when any byte of leaf, proof or root changes', async () => {
    await fc.assert(fc.asyncProperty(leavesArb(1, 70), fc.nat(), fc.nat(), fc.nat(), async (leaves, pick, which, byte) => {
      const n = leaves.length;
      const index = pick % n;
      const store = storeOf(leaves);
      const root = naiveRoot(leaves);
      const proof = await inclusionProof(store, index, n);
      const leaf = leaves[index]!;
      assert.ok(verifyInclusion(index, n, leaf, proof, root));
      const [badLeaf] = tampered([leaf], 0, byte);
      assert.ok(!verifyInclusion(index, n, badLeaf!, proof, root), 'leaf');
      const [badRoot] = tampered([root], 0, byte);
      assert.ok(!verifyInclusion(index, n, leaf, proof, badRoot!), 'root');
      if (proof.length > 0) assert.ok(!verifyInclusion(index, n, leaf, tampered(proof, which % proof.length, byte), root), 'proof');
      if (n > 1) assert.ok(!verifyInclusion((index + 1) % n, n, leaf, proof, root), 'index');
      assert.ok(!verifyInclusion(index, n, leaf, [...proof, root], root), 'extra hash');
      if (proof.length > 0) assert.ok(!verifyInclusion(index, n, leaf, proof.slice(1), root), 'missing hash');
    }), { numRuns: 300 });
  });

  test('every consistency proof verifies, and fails when any byte of proof or roots changes', async () => {
    await fc.assert(fc.asyncProperty(leavesArb(1, 70), fc.nat(), fc.nat(), fc.nat(), async (leaves, pick, which, byte) => {
      const n = leaves.length;
      const m = 1 + (pick % n);
      const store = storeOf(leaves);
      const [rootM, rootN] = [naiveRoot(leaves.slice(0, m)), naiveRoot(leaves)];
      const proof = await consistencyProof(store, m, n);
      assert.ok(verifyConsistency(m, n, rootM, rootN, proof));
      assert.ok(!verifyConsistency(m, n, tampered([rootM], 0, byte)[0]!, rootN, proof), 'first root');
      assert.ok(!verifyConsistency(m, n, rootM, tampered([rootN], 0, byte)[0]!, proof), 'second root');
      if (proof.length > 0) assert.ok(!verifyConsistency(m, n, rootM, rootN, tampered(proof, which % proof.length, byte)), 'proof');
      if (m < n) {
        assert.ok(!verifyConsistency(m, n, rootM, rootN, proof.slice(1)), 'missing hash');
        assert.ok(!verifyConsistency(m, n, rootM, rootN, [...proof, rootN]), 'extra hash');
      }
    }), { numRuns: 300 });
  });

  test('a tree whose history was rewritten is not consistent with its old root', async () => {
    await fc.assert(fc.asyncProperty(leavesArb(2, 40), fc.nat(), fc.nat(), async (leaves, pickM, pickEdit) => {
      const n = leaves.length;
      const m = 1 + (pickM % (n - 1));
      const edit = pickEdit % m;
      const rootM = naiveRoot(leaves.slice(0, m));
      const rewritten = tampered(leaves, edit, 0);
      const proof = await consistencyProof(storeOf(rewritten), m, n);
      assert.ok(!verifyConsistency(m, n, rootM, naiveRoot(rewritten), proof));
    }), { numRuns: 200 });
  });

  test('empty and equal sizes; out-of-range arguments refused', async () => {
    const store = storeOf(CT_LEAVES);
    const root8 = unhex(CT_ROOTS[8]!);
    assert.deepEqual(await consistencyProof(store, 0, 8), []);
    assert.ok(verifyConsistency(0, 8, EMPTY_ROOT, root8, []));
    assert.ok(!verifyConsistency(0, 8, root8, root8, []));
    assert.ok(verifyConsistency(8, 8, root8, root8, []));
    assert.ok(!verifyConsistency(8, 8, root8, unhex(CT_ROOTS[7]!), []));
    assert.ok(!verifyConsistency(3, 8, unhex(CT_ROOTS[3]!), root8, []));
    assert.ok(!verifyConsistency(8, 3, root8, unhex(CT_ROOTS[3]!), []));
    assert.ok(!verifyInclusion(8, 8, CT_LEAVES[0]!, [], root8));
    assert.ok(!verifyInclusion(0, 8, CT_LEAVES[0]!, [Buffer.alloc(31)], root8));
    await assert.rejects(inclusionProof(store, 8, 8), RangeError);
    await assert.rejects(consistencyProof(store, 5, 4), RangeError);
    await assert.rejects(rootHash(store, 9), RangeError);
  });

  test('a proof reads O(log² n) subtrees, in one batch, never the leaves', async () => {
    const store = storeOf(Array.from({ length: 1000 }, (_, i) => leafHash(Buffer.from(String(i)))));
    const asked: SubtreeRef[][] = [];
    const counting: SubtreeStore = { getSubtrees: (refs) => { asked.push([...refs]); return store.getSubtrees(refs); } };
    await inclusionProof(counting, 637, 1000);
    await consistencyProof(counting, 637, 1000);
    await rootHash(counting, 1000);
    assert.equal(asked.length, 3);
    for (const refs of asked) assert.ok(refs.length <= 10 * 10, `${refs.length} subtrees`);
    assert.deepEqual(asked[2], [{ level: 9, index: 0 }, { level: 8, index: 2 }, { level: 7, index: 6 }, { level: 6, index: 14 },
      { level: 5, index: 30 }, { level: 3, index: 124 }]);
  });

  test('ranges decompose into aligned perfect subtrees, and unaligned ranges are refused', () => {
    assert.deepEqual(rangeSubtrees(8, 13), [{ level: 2, index: 2 }, { level: 0, index: 12 }]);
    assert.throws(() => rangeSubtrees(3, 7), RangeError);
  });
});
