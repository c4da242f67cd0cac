import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReady, send, waitFor, waitReady } from '../faults/support.js';
import type { HttpResponse } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';

/**
 * Load balancers probe /readyz every few seconds from several nodes. Each KMS call is billed and
 * counts against the account's request quota, so the key service's answer is reused for
 * READINESS_KEY_CHECK_SECONDS (default 5) and concurrent probes share one check.
 */
describe('/readyz and the key service', () => {
  let vault: TestVault;
  let quick: TestVault;
  const describeKeyCalls = (v: TestVault): number => v.kms?.calls.DescribeKey ?? 0;

  before(async () => {
    [vault, quick] = await Promise.all([
      startVault({ keys: 'aws-kms' }),
      startVault({ keys: 'aws-kms', env: { READINESS_KEY_CHECK_SECONDS: '1', KMS_MAX_ATTEMPTS: '1' } }),
    ]);
  });
  after(async () => { await Promise.all([vault.close(), quick.close()]); });

  test('twenty probes, ten of them at once, ask the key service once', async () => {
    assert.equal(vault.config.observability.readinessKeyCheckSeconds, 5);
    const before = describeKeyCalls(vault);
    const parallel = await Promise.all(Array.from({ length: 10 }, () => send(vault, { path: '/readyz' })));
    for (let i = 0; i < 10; i++) await assertReady(vault);
    assert.deepEqual(parallel.map((r) => r.status), Array<number>(10).fill(200));
    assert.equal(describeKeyCalls(vault) - before, 1);
  });

  test('the answer expires: a failure shows once the cached one is older than the setting', async () => {
    await assertReady(quick);
    const before = describeKeyCalls(quick);
    quick.kms?.failNext(1, 'internal');
    // Probes answer from the cache until it is a second old; the first check after that fails.
    const probes: HttpResponse[] = [];
    await waitFor('the failed key check to show', async () => {
      const probe = await send(quick, { path: '/readyz' });
      probes.push(probe);
      return probe.status !== 200;
    });
    const res = probes.at(-1);
    assert.equal(res?.status, 503, res?.body.toString());
    assert.deepEqual(res.json<{ checks: Record<string, string> }>().checks, { database: 'ok', storage: 'ok', keys: 'unavailable' });
    await waitReady(quick);
    assert.equal(describeKeyCalls(quick) - before, 2, 'one failed check, then one that recovered');
  });
});
