import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runRetentionPass } from '../../src/retention/worker.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { json, putPolicy, row, upload } from './support.js';

interface Counts { wouldDelete: number; keptOnHold: number }
interface DryRun extends Counts { until: string; policy: string | null; byPolicy: Array<Counts & { policy: string | null }>; byDay: Array<Counts & { day: string }> }

const DAY = 86_400_000;

describe('GET /v1/retention-dry-run', () => {
  let vault: TestVault;
  let admin: string;
  const start = Math.floor(Date.now() / DAY) * DAY - DAY;
  const iso = (ms: number): string => new Date(ms).toISOString();
  before(async () => {
    vault = await startVault();
    admin = await vault.token('admin');
    await putPolicy(vault, 'week', 'P7D');
    await putPolicy(vault, 'month', 'P30D');
    await putPolicy(vault, 'week', 'P7D', 'globex');
    for (const [callId, policy, offset] of [['w1', 'week', 0], ['w2', 'week', 0], ['w3', 'week', DAY], ['m1', 'month', 0]] as const) {
      await upload(vault, callId, { query: { policy, startedAt: iso(start + offset) } });
    }
    const held = await upload(vault, 'w-held', { query: { policy: 'week', startedAt: iso(start) } });
    assert.equal((await json(vault, 'PUT', `/v1/recordings/${held.id}/legal-hold`, await vault.token('compliance'), { reason: 'order' })).status, 200);
    await upload(vault, 'g1', { tenant: 'globex', query: { policy: 'week', startedAt: iso(start) } });
  });
  after(async () => { await vault.close(); });

  test('counts what a pass at the date would delete and keep, by policy and by day, for the tenant only', async () => {
    const res = await json(vault, 'GET', `/v1/retention-dry-run?until=${iso(start + 8 * DAY)}`, admin);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<DryRun>();
    assert.deepEqual({ wouldDelete: body.wouldDelete, keptOnHold: body.keptOnHold, policy: body.policy }, { wouldDelete: 3, keptOnHold: 1, policy: null });
    assert.deepEqual(body.byPolicy, [{ policy: 'week', wouldDelete: 3, keptOnHold: 1 }]);
    assert.deepEqual(body.byDay, [
      { day: iso(start + 7 * DAY).slice(0, 10), wouldDelete: 2, keptOnHold: 1 },
      { day: iso(start + 8 * DAY).slice(0, 10), wouldDelete: 1, keptOnHold: 0 },
    ]);
    const later = (await json(vault, 'GET', `/v1/retention-dry-run?until=${iso(start + 31 * DAY).slice(0, 10)}`, admin)).json<DryRun>();
    assert.deepEqual(later.byPolicy, [{ policy: 'month', wouldDelete: 1, keptOnHold: 0 }, { policy: 'week', wouldDelete: 3, keptOnHold: 1 }]);
    const month = (await json(vault, 'GET', `/v1/retention-dry-run?until=${iso(start + 31 * DAY)}&policy=month`, admin)).json<DryRun>();
    assert.deepEqual([month.policy, month.wouldDelete, month.keptOnHold], ['month', 1, 0]);
    const before = (await json(vault, 'GET', `/v1/retention-dry-run?until=${iso(start + 6 * DAY)}`, admin)).json<DryRun>();
    assert.deepEqual([before.wouldDelete, before.byDay], [0, []]);
  });

  test('agrees with the retention pass run at that instant, and changes nothing itself', async () => {
    const until = new Date(start + 7 * DAY + 1000);
    const sim = (await json(vault, 'GET', `/v1/retention-dry-run?until=${until.toISOString()}`, admin)).json<DryRun>();
    const dry = await runRetentionPass(vault.deps, until, { dryRun: true });
    assert.equal(sim.wouldDelete, dry.items.filter((i) => i.tenant === 'acme').length);
    assert.equal(sim.wouldDelete, 2);
    for (const id of dry.ids) assert.equal((await row(vault, id)).status, 'active');
  });

  test('admin only; until is required and checked', async () => {
    for (const role of ['compliance', 'supervisor', 'agent', 'pbx'] as const) {
      assert.equal((await json(vault, 'GET', `/v1/retention-dry-run?until=${iso(start)}`, await vault.token(role))).status, 403, role);
    }
    for (const q of ['', 'until=tomorrow', 'until=2026-13-01', `until=${iso(start)}&policy=Bad`, `until=${iso(start)}&x=1`]) {
      const res = await json(vault, 'GET', `/v1/retention-dry-run?${q}`, admin);
      assert.equal(res.status, 400, q);
      assert.equal(res.json<{ code: string }>().code, 'invalid_query');
    }
  });
});
