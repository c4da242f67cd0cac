import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADVISORY_LOCKS, advisoryLockKey } from '../../src/db/locks.js';

/** Replicas of different versions coordinate through these numbers: they must never change. */
const asInt4 = (code: string): number => Buffer.from(code, 'ascii').readInt32BE(0);

test('advisory lock keys keep the values running deployments hold', () => {
  assert.equal(advisoryLockKey('retention.liveness'), asInt4('cvRT'));
  assert.equal(advisoryLockKey('uploads.liveness'), asInt4('cvUP'));
  assert.equal(advisoryLockKey('keys.activate'), asInt4('cvKV'));
  assert.equal(advisoryLockKey('audit.log'), asInt4('cvLG'));
  assert.equal(advisoryLockKey('audit.checkpoint'), asInt4('cvCP'));
  assert.equal(advisoryLockKey('downloads.grants'), asInt4('cvDG'));
  assert.equal(advisoryLockKey('saved-searches.owner'), asInt4('cvSS'));
  const values = Object.values(ADVISORY_LOCKS);
  assert.equal(new Set(values).size, values.length, 'no two names share a key');
  assert.ok(Object.isFrozen(ADVISORY_LOCKS));
});
