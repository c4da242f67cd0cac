import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidKey, assertValidPrefix, assertValidRange } from '../../src/storage/keys.js';

test('accepts the keys the vault writes', () => {
  for (const key of [
    'recordings/acme/0b6f1c9e-6a2e-4c57-9a39-5f0b8e3c2d11',
    'audit-anchors/acme/2024-05-01T00=00=00Z.json',
    'a',
    'A.b_c-d=e/f',
  ]) {
    assert.doesNotThrow(() => assertValidKey(key), key);
  }
});

test('rejects keys that could escape the root, alias another key or break a driver', () => {
  const bad = [
    '', '/recordings/a', 'recordings/../etc/passwd', '..', 'a/..', 'a..b', 'recordings//a', 'recordings/a/',
    'recordings/./a', '.tmp/x', 'a/.hidden', 'a\0b', 'a b', 'a\\b', 'ä', 'a?b', 'a#b', 'a%2Fb', 'x'.repeat(1025),
  ];
  for (const key of bad) {
    assert.throws(() => assertValidKey(key), (err: unknown) => err instanceof Error && err.constructor === Error, JSON.stringify(key));
  }
});

test('prefixes may be empty or end with a slash, nothing else is relaxed', () => {
  for (const prefix of ['', 'recordings/', 'recordings/acme/', 'recordings/ac']) {
    assert.doesNotThrow(() => assertValidPrefix(prefix), prefix);
  }
  for (const prefix of ['/', '/recordings/', 'recordings//', '../', 'a b/', '.tmp/']) {
    assert.throws(() => assertValidPrefix(prefix), Error, prefix);
  }
});

test('ranges must be non-negative integers in order', () => {
  assert.doesNotThrow(() => assertValidRange({ start: 0, endInclusive: 0 }));
  assert.doesNotThrow(() => assertValidRange({ start: 5, endInclusive: 1e12 }));
  for (const [start, endInclusive] of [[-1, 3], [4, 3], [0.5, 3], [0, Number.NaN], [0, Infinity]]) {
    assert.throws(() => assertValidRange({ start: start!, endInclusive: endInclusive! }), Error);
  }
});
