import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ForkingDigest } from '../../src/lib/forking-digest.js';

const sha = (...parts: Buffer[]): string => createHash('sha256').update(Buffer.concat(parts)).digest('hex');

describe('ForkingDigest', () => {
  test('bytes that are the same on both sides: one digest for both, asked for twice', () => {
    const d = new ForkingDigest();
    const [a, b] = [Buffer.from('RIFF header'), Buffer.from('samples')];
    d.same(a);
    d.same(b);
    assert.equal(d.receivedHex(), sha(a, b));
    assert.equal(d.storedHex(), sha(a, b));
    assert.deepEqual([d.receivedBytes, d.storedBytes], [a.length + b.length, a.length + b.length]);
  });

  test('after the first difference each side has its own digest, over the shared prefix and what follows', () => {
    const d = new ForkingDigest();
    const [head, key, silence, tail] = [Buffer.from('head'), Buffer.from('key tone'), Buffer.alloc(8), Buffer.from('tail')];
    d.same(head);
    d.received(key);
    d.stored(silence);
    d.same(tail);
    assert.equal(d.receivedHex(), sha(head, key, tail));
    assert.equal(d.storedHex(), sha(head, silence, tail));
  });

  test('a recording stored as something else entirely (transcoded): two unrelated digests and sizes', () => {
    const d = new ForkingDigest();
    const [mp3, wav] = [Buffer.from('mp3 frames'), Buffer.from('longer wav samples')];
    d.received(mp3);
    d.stored(wav);
    assert.equal(d.receivedHex(), sha(mp3));
    assert.equal(d.storedHex(), sha(wav));
    assert.deepEqual([d.receivedBytes, d.storedBytes], [mp3.length, wav.length]);
  });
});
