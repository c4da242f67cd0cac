import { after, afterEach, before, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEventInput } from '../../src/audit/types.js';
import type { Principal } from '../../src/auth/permissions.js';
import { AppError } from '../../src/errors.js';
import { ExfiltrationGuard } from '../../src/guards/index.js';
import { testLimits, unreachableLimits, type TestLimits } from '../helpers/limits.js';

class RecordingAudit {
  readonly events: AuditEventInput[] = [];
  fail = false;
  async record(event: AuditEventInput): Promise<void> {
    if (this.fail) throw new Error('audit down');
    this.events.push(event);
  }
}

const supervisor = (sub = 'sup-1', tenant = 'acme'): Principal => ({ sub, tenant, roles: ['supervisor'], actingRole: 'supervisor' });

let t: TestLimits;
before(async () => { t = await testLimits(); });
beforeEach(async () => { await t.reset(); });
afterEach(() => { mock.timers.reset(); });
after(async () => { await t.close(); });

/** A guard on the shared limits; time moves only when the test advances it (the windows read Date). */
function setup(perHour = 3) {
  mock.timers.reset();
  mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
  const audit = new RecordingAudit();
  let refusals = 0;
  const guard = new ExfiltrationGuard(t.limits, { perHour, audit, onRefused: () => { refusals += 1; } });
  return { guard, audit, advance: (ms: number) => mock.timers.tick(ms), refusals: () => refusals };
}

async function refusedWith429(p: Promise<void>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof AppError, 'expected a refusal');
  assert.equal(err.status, 429);
  assert.ok(Number(err.headers['Retry-After']) >= 1);
  return err;
}

describe('ExfiltrationGuard: link issuance', () => {
  test('refuses the principal above the hourly budget and alerts once per window', async () => {
    const { guard, audit, advance, refusals } = setup(3);
    for (let i = 0; i < 3; i++) await guard.checkIssue(supervisor(), { ip: '192.0.2.1' });
    const err = await refusedWith429(guard.checkIssue(supervisor(), { ip: '192.0.2.1', requestId: 'req-12345678' }));
    assert.equal(err.code, 'download_rate_exceeded');
    await refusedWith429(guard.checkIssue(supervisor()));
    await refusedWith429(guard.checkIssue(supervisor()));
    assert.equal(refusals(), 3, 'every refused request is counted');
    assert.equal(audit.events.length, 1, 'one anomaly event per window, not per refusal');
    const [event] = audit.events;
    assert.equal(event?.action, 'anomaly.download_rate');
    assert.equal(event?.outcome, 'denied');
    assert.equal(event?.tenant, 'acme');
    assert.equal(event?.actorSub, 'sup-1');
    assert.equal(event?.ip, '192.0.2.1');
    assert.deepEqual(event?.details, { activity: 'link_issue', limitPerHour: 3, windowSeconds: 3600 });

    await guard.checkIssue(supervisor('sup-2'));
    await guard.checkIssue(supervisor('sup-1', 'other-tenant'));

    advance(3_600_001);
    await guard.checkIssue(supervisor());
  });

  test('Retry-After says when the oldest issuance leaves the window', async () => {
    const { guard, advance } = setup(2);
    await guard.checkIssue(supervisor());
    advance(600_000);
    await guard.checkIssue(supervisor());
    const err = await refusedWith429(guard.checkIssue(supervisor()));
    assert.equal(err.headers['Retry-After'], String(3_000));
  });

  test('a failed anomaly write is retried on the next refusal', async () => {
    const { guard, audit } = setup(1);
    await guard.checkIssue(supervisor());
    audit.fail = true;
    await refusedWith429(guard.checkIssue(supervisor()));
    audit.fail = false;
    await refusedWith429(guard.checkIssue(supervisor()));
    assert.equal(audit.events.length, 1);
  });
});

describe('ExfiltrationGuard: redemption', () => {
  test('counts distinct links per issuer, not Range requests of one playback', async () => {
    const { guard, audit } = setup(2);
    for (let i = 0; i < 50; i++) await guard.checkRedeem('acme', 'sup-1', 'link-a', { ip: '198.51.100.5' });
    await guard.checkRedeem('acme', 'sup-1', 'link-b');
    await refusedWith429(guard.checkRedeem('acme', 'sup-1', 'link-c', { ip: '198.51.100.6' }));
    await guard.checkRedeem('acme', 'sup-1', 'link-a');
    assert.equal(audit.events.length, 1);
    assert.equal(audit.events[0]?.linkId, 'link-c');
    assert.equal(audit.events[0]?.actorSub, 'sup-1', 'charged to the issuer, whoever redeems');
    assert.deepEqual(audit.events[0]?.details, { activity: 'link_redeem', limitPerHour: 2, windowSeconds: 3600 });
  });

  test('issuance and redemption budgets are separate, and other issuers are unaffected', async () => {
    const { guard } = setup(1);
    await guard.checkIssue(supervisor());
    await guard.checkRedeem('acme', 'sup-1', 'link-a');
    await guard.checkRedeem('acme', 'sup-2', 'link-b');
    await refusedWith429(guard.checkRedeem('acme', 'sup-1', 'link-z'));
  });
});

describe('ExfiltrationGuard: database unreachable', () => {
  test('refuses with 503 rather than counting per replica', async () => {
    const down = unreachableLimits();
    try {
      const guard = new ExfiltrationGuard(down.limits, { perHour: 100, audit: new RecordingAudit() });
      for (const attempt of [guard.checkIssue(supervisor()), guard.checkRedeem('acme', 'sup-1', 'link-a')]) {
        const err = await attempt.then(() => null, (e: unknown) => e);
        assert.ok(err instanceof AppError);
        assert.equal(err.status, 503);
        assert.equal(err.code, 'database_unavailable');
      }
      assert.equal(down.storeErrors.length, 1);
    } finally {
      await down.close();
    }
  });
});
