import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/schema.js';
import { AppError } from '../../src/errors.js';
import { AuthLockout, BoundedMap, IpAllowlist, sourceKey, TokenBucketLimiter } from '../../src/guards/index.js';

describe('BoundedMap', () => {
  test('holds at most maxEntries keys and evicts the least recently used', () => {
    const m = new BoundedMap<string, number>(3);
    m.set('a', 1); m.set('b', 2); m.set('c', 3);
    assert.equal(m.get('a'), 1); // a is now the most recent
    m.set('d', 4);
    assert.equal(m.size, 3);
    assert.equal(m.get('b'), undefined, 'b was the least recently used');
    assert.equal(m.get('a'), 1);
    for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i);
    assert.equal(m.size, 3);
  });
});

describe('TokenBucketLimiter', () => {
  test('allows a minute of burst, then refuses with a Retry-After that matches the refill rate', () => {
    const limiter = new TokenBucketLimiter({ perMinute: 60 });
    const t0 = 1_000_000;
    for (let i = 0; i < 60; i++) assert.equal(limiter.take('ip', t0).allowed, true, `request ${i}`);
    const refused = limiter.take('ip', t0);
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.retryAfterSeconds === 1);
    assert.equal(limiter.take('other', t0).allowed, true, 'keys are independent');
    assert.equal(limiter.take('ip', t0 + 1_000).allowed, true, 'one token refills per second');
    assert.equal(limiter.take('ip', t0 + 1_000).allowed, false);
  });

  test('a slow rate reports a long Retry-After', () => {
    const limiter = new TokenBucketLimiter({ perMinute: 2, burst: 1 });
    assert.equal(limiter.take('k', 0).allowed, true);
    const d = limiter.take('k', 0);
    assert.ok(!d.allowed && d.retryAfterSeconds === 30);
  });

  test('memory stays bounded under a flood of distinct keys', () => {
    const limiter = new TokenBucketLimiter({ perMinute: 10, maxKeys: 1_000 });
    for (let i = 0; i < 50_000; i++) limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    assert.equal(limiter.trackedKeys, 1_000);
  });
});

describe('sourceKey', () => {
  test('IPv4 and IPv4-mapped addresses count one by one', () => {
    assert.equal(sourceKey('203.0.113.7'), '203.0.113.7');
    assert.equal(sourceKey('::ffff:203.0.113.7'), '203.0.113.7');
  });
  test('IPv6 addresses count by /64 whatever their spelling', () => {
    const a = sourceKey('2001:db8:1:2:aaaa::1');
    assert.equal(a, '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), a);
    assert.notEqual(sourceKey('2001:db8:1:3::1'), a);
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  });
});

describe('AuthLockout', () => {
  const lockout = (onLocked?: (ip: string) => void) => new AuthLockout({ failures: 3, windowSeconds: 60, lockoutSeconds: 300, onLocked });

  test('locks a source out after N failures within the window, with Retry-After, and lifts it later', () => {
    const locked: string[] = [];
    const l = lockout((ip) => locked.push(ip));
    const t0 = 10_000_000;
    l.assertAllowed('198.51.100.1', t0);
    assert.equal(l.recordFailure('198.51.100.1', t0), false);
    assert.equal(l.recordFailure('198.51.100.1', t0 + 1_000), false);
    assert.equal(l.recordFailure('198.51.100.1', t0 + 2_000), true);
    assert.deepEqual(locked, ['198.51.100.1'], 'the lockout is reported once');
    assert.throws(() => l.assertAllowed('198.51.100.1', t0 + 3_000), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'locked_out');
      assert.equal(err.headers['Retry-After'], '299');
      return true;
    });
    l.assertAllowed('198.51.100.2', t0 + 3_000);
    l.assertAllowed('198.51.100.1', t0 + 2_000 + 300_000);
  });

  test('failures spread wider than the window do not lock', () => {
    const l = lockout();
    for (let i = 0; i < 10; i++) assert.equal(l.recordFailure('192.0.2.9', i * 31_000), false);
    l.assertAllowed('192.0.2.9', 10 * 31_000);
  });

  test('an IPv6 attacker cannot escape by rotating addresses inside its /64', () => {
    const l = lockout();
    l.recordFailure('2001:db8::1', 0);
    l.recordFailure('2001:db8::2', 0);
    l.recordFailure('2001:db8::3', 0);
    assert.throws(() => l.assertAllowed('2001:db8::ffff', 1), /too many failed/i);
  });
});

describe('IpAllowlist', () => {
  test('matches IPv4 and IPv6 CIDR blocks', () => {
    const list = IpAllowlist.of(['10.1.0.0/16', '192.0.2.7/32', '2001:db8:aa::/48']);
    assert.equal(list.allows('10.1.200.3'), true);
    assert.equal(list.allows('::ffff:10.1.0.1'), true);
    assert.equal(list.allows('10.2.0.1'), false);
    assert.equal(list.allows('192.0.2.7'), true);
    assert.equal(list.allows('192.0.2.8'), false);
    assert.equal(list.allows('2001:db8:aa:1::5'), true);
    assert.equal(list.allows('2001:db8:ab::5'), false);
    assert.equal(list.allows('not-an-ip'), false);
  });

  test('rejects malformed blocks naming PBX_ALLOWED_CIDRS', () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '10.0.0/8', 'fe80::/x']) {
      assert.throws(() => IpAllowlist.of([bad]), (err: unknown) => err instanceof ConfigError && err.variable === 'PBX_ALLOWED_CIDRS', bad);
    }
  });
});
