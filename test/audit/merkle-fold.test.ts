import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CanonicalAtReader, parseCanonicalAt } from '../../src/audit/canonical.js';
import { rootHash } from '../../src/audit/merkle.js';
import { CompactMerkle } from '../../src/audit/merkle-compact.js';
import { MerkleFold } from '../../src/audit/merkle-fold.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';

const leafOf = (i: number): Buffer => createHash('sha256').update(`leaf ${i}`).digest();

describe('the offline verifier\'s building blocks', () => {
  test('MerkleFold has the root of CompactMerkle and of the stored tree at every size', async () => {
    const fold = new MerkleFold();
    const compact = new CompactMerkle();
    const store = new MemorySubtreeStore();
    assert.deepEqual(fold.root(), compact.root());
    for (let size = 1; size <= 70; size += 1) {
      const leaf = leafOf(size);
      fold.append(leaf.toString('latin1'));
      compact.append(leaf);
      store.append(leaf);
      assert.equal(fold.size, size);
      assert.equal(fold.root().toString('hex'), compact.root().toString('hex'), `size ${size}`);
      assert.equal(fold.root().toString('hex'), (await rootHash(store, size)).toString('hex'), `size ${size}`);
    }
  });

  test('CanonicalAtReader accepts exactly what parseCanonicalAt accepts, to the same instant', () => {
    const reader = new CanonicalAtReader();
    const texts = [
      '2026-12-01T00:00:00.000Z', '2026-12-01T23:59:59.999Z', '2026-12-01T24:00:00.000Z', '2026-12-01T12:60:00.000Z',
      '2026-12-01T12:00:60.000Z', '2026-12-01T1a:00:00.000Z', '2026-12-01T12:00:00.000', '2026-12-01T12:00:00,000Z',
      '2026-12-01T12:00:00.0000Z', '2026-12-01T12-00:00.000Z', '2026-12-02T00:00:00.001Z', '2026-02-30T00:00:00.000Z',
      '2026-02-30T00:00:01.000Z', '2026-12-01T12:00:00.000Z', '2026-12-01T07:08:09.010Z', '2026-12-01T-1:00:00.000Z',
    ];
    for (const text of texts) assert.equal(reader.read(text)?.getTime(), parseCanonicalAt(text)?.getTime(), text);
  });
});
