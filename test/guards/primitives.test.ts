import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/schema.js';
import { AppError } from '../../src/errors.js';
import { AuthLockout, IpAllowlist, RateLimiter, sourceKey } from '../../src/guards/index.js';
import { testLimits, unreachableLimits, type TestLimits } from '../helpers/limits.js';

describe('RateLimiter', () => {
  let t: TestLimits;
  before(async () => { t = await testLimits(); });
  beforeEach(async () => { await t.reset(); });
  after(async () => { await t.close(); });

  test('allows one minute of budget, then refuses with a Retry-After that says when the minute is over', async (c) => {
    const clock = c.mock.timers;
    clock.enable({ apis: ['Date'], now: 1_000_000 });
    const limiter = new RateLimiter(t.limits, { name: 'test', perMinute: 60 });
    for (let i = 0; i < 60; i++) assert.equal((await limiter.take('ip')).allowed, true, `request ${i}`);
    const refused = await limiter.take('ip');
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.retryAfterSeconds === 60);
    assert.equal((await limiter.take('other')).allowed, true, 'keys are independent');
    clock.tick(59_000);
    assert.equal((await limiter.take('ip')).allowed, false);
    clock.tick(1_000);
    assert.equal((await limiter.take('ip')).allowed, true, 'a new minute, a new budget');
  });

  test('the window starts with the first request, and Retry-After counts down from it', async (c) => {
    c.mock.timers.enable({ apis: ['Date'], now: 5_000_000 });
    const limiter = new RateLimiter(t.limits, { name: 'test', perMinute: 2 });
    assert.equal((await limiter.take('k')).allowed, true);
    c.mock.timers.tick(45_000);
    assert.equal((await limiter.take('k')).allowed, true);
    const d = await limiter.take('k');
    assert.ok(!d.allowed && d.retryAfterSeconds === 15);
  });

  test('keys are stored hashed: no address in the table, and any key (NUL, very long) is counted', async () => {
    const limiter = new RateLimiter(t.limits, { name: 'test', perMinute: 1 });
    const keys = ['203.0.113.77', `acme\u0000${'s'.repeat(2_000)}`];
    for (const key of keys) {
      assert.equal((await limiter.take(key)).allowed, true);
      assert.equal((await limiter.take(key)).allowed, false);
    }
    const rows = (await t.pool.query<{ key: string }>('SELECT key FROM rate_limits')).rows;
    assert.equal(rows.length, 2);
    for (const row of rows) assert.doesNotMatch(row.key, /203\.0\.113|acme/);
    assert.equal(t.storeErrors.length, 0);
  });

  test('with the database unreachable the limit still holds, counted in this process', async () => {
    const down = unreachableLimits();
    try {
      const limiter = new RateLimiter(down.limits, { name: 'test', perMinute: 2 });
      assert.equal((await limiter.take('ip')).allowed, true);
      assert.equal((await limiter.take('ip')).allowed, true);
      assert.equal((await limiter.take('ip')).allowed, false);
      assert.equal(down.storeErrors.length, 1, 'the outage is reported, not once per request');
    } finally {
      await down.close();
    }
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
  let t: TestLimits;
  before(async () => { t = await testLimits(); });
  beforeEach(async () => { await t.reset(); });
  after(async () => { await t.close(); });
  const lockout = (onLocked?: (ip: string) => void) => new AuthLockout(t.limits, { failures: 3, windowSeconds: 60, lockoutSeconds: 300, onLocked });

  test('locks a source out after N failures within the window, with Retry-After, and lifts it later', async (c) => {
    const clock = c.mock.timers;
    clock.enable({ apis: ['Date'], now: 10_000_000 });
    const locked: string[] = [];
    const l = lockout((ip) => locked.push(ip));
    await l.assertAllowed('198.51.100.1');
    assert.equal(await l.recordFailure('198.51.100.1'), false);
    clock.tick(1_000);
    assert.equal(await l.recordFailure('198.51.100.1'), false);
    clock.tick(1_000);
    assert.equal(await l.recordFailure('198.51.100.1'), true);
    assert.deepEqual(locked, ['198.51.100.1'], 'the lockout is reported once');
    clock.tick(1_000);
    assert.equal(await l.recordFailure('198.51.100.1'), false, 'failures while locked out do not lock again');
    await assert.rejects(l.assertAllowed('198.51.100.1'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'locked_out');
      assert.equal(err.headers['Retry-After'], '299');
      return true;
    });
    await l.assertAllowed('198.51.100.2');
    clock.tick(299_000);
    await l.assertAllowed('198.51.100.1');
  });

  test('failures spread wider than the window do not lock', async (c) => {
    c.mock.timers.enable({ apis: ['Date'], now: 20_000_000 });
    const l = lockout();
    for (let i = 0; i < 10; i++) {
      assert.equal(await l.recordFailure('192.0.2.9'), false);
      c.mock.timers.tick(31_000);
    }
    await l.assertAllowed('192.0.2.9');
  });

  test('an IPv6 attacker cannot escape by rotating addresses inside its /64', async () => {
    const l = lockout();
    await l.recordFailure('2001:db8::1');
    await l.recordFailure('2001:db8::2');
    await l.recordFailure('2001:db8::3');
    await assert.rejects(l.assertAllowed('2001:db8::ffff'), /too many failed/i);
  });

  test('one allowed failure locks on the first', async () => {
    const l = new AuthLockout(t.limits, { failures: 1, windowSeconds: 60, lockoutSeconds: 60 });
    assert.equal(await l.recordFailure('192.0.2.77'), true);
    await assert.rejects(l.assertAllowed('192.0.2.77'), /too many failed/i);
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
