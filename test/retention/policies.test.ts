import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runRetentionPass } from '../../src/retention/worker.js';
import { readFile } from 'node:fs/promises';
import { request } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, row, upload } from './support.js';

interface PolicyView { name: string; retain: string; description: string | null; isDefault: boolean; updatedBy: string; updatedAt: string }

const DAY = 86_400_000;

describe('retention policies', () => {
  let vault: TestVault;
  let admin: string;
  before(async () => {
    vault = await startVault();
    admin = await vault.token('admin', { sub: 'admin-7' });
  });
  after(async () => { await vault.close(); });

  test('PUT creates (201) and updates (200) a policy; GET lists it; each change is audited', async () => {
    const created = await json(vault, 'PUT', '/v1/retention-policies/calls', admin, { retain: 'P90D', description: 'ordinary calls' });
    assert.equal(created.status, 201, created.body.toString());
    assert.deepEqual({ ...created.json<PolicyView>(), updatedAt: 'x' }, { name: 'calls', retain: 'P90D', description: 'ordinary calls', isDefault: false, updatedBy: 'admin-7', updatedAt: 'x' });
    const updated = await json(vault, 'PUT', '/v1/retention-policies/calls', admin, { retain: 'P6Y' });
    assert.equal(updated.status, 200);
    assert.equal(updated.json<PolicyView>().retain, 'P6Y');
    const list = await json(vault, 'GET', '/v1/retention-policies', admin);
    assert.equal(list.status, 200);
    const body = list.json<{ items: PolicyView[]; defaultPolicy: string; systemDefault: { name: string; retain: string } }>();
    assert.deepEqual(body.items.map((p) => [p.name, p.retain]), [['calls', 'P6Y']]);
    assert.equal(body.defaultPolicy, 'default');
    assert.deepEqual(body.systemDefault, { name: 'default', retain: 'P6Y' });
    const events = (await auditEvents(vault, { action: 'policy.updated' })).filter((e) => e.details.policy === 'calls');
    assert.deepEqual(events.map((e) => [e.details.retain, e.details.previousRetain, e.actor_sub]), [['P90D', null, 'admin-7'], ['P6Y', 'P90D', 'admin-7']]);
  });

  test('retain must be an ISO-8601 duration; names are checked; other tenants and roles see nothing', async () => {
    for (const retain of ['90 days', 'P', 'PT0S', 'P1000Y', '']) {
      const res = await json(vault, 'PUT', '/v1/retention-policies/bad', admin, { retain });
      assert.equal(res.status, 400, retain);
      assert.equal(res.json<{ code: string }>().code, 'invalid_retain');
    }
    for (const retain of ['PT2S', 'P90D', 'P6Y', 'P1Y2M3DT4H5M6S']) {
      assert.ok([200, 201].includes((await json(vault, 'PUT', '/v1/retention-policies/valid', admin, { retain })).status), retain);
    }
    assert.equal((await json(vault, 'PUT', '/v1/retention-policies/Bad%20Name', admin, { retain: 'P1D' })).json<{ code: string }>().code, 'invalid_policy_name');
    assert.equal((await json(vault, 'PUT', '/v1/retention-policies/x', admin, { retain: 'P1D', extra: 1 })).status, 400);
    assert.equal((await json(vault, 'PUT', '/v1/retention-policies/x', await vault.token('compliance'), { retain: 'P1D' })).status, 403);
    assert.equal((await json(vault, 'GET', '/v1/retention-policies', await vault.token('supervisor'))).status, 403);
    const other = await json(vault, 'GET', '/v1/retention-policies', await vault.token('admin', { tenant: 'globex' }));
    assert.deepEqual(other.json<{ items: unknown[] }>().items, []);
  });

  test('an upload takes its policy parameter, else the tenant default, else the system default', async () => {
    await json(vault, 'PUT', '/v1/retention-policies/month', admin, { retain: 'P30D' });
    await json(vault, 'PUT', '/v1/retention-policies/week', admin, { retain: 'P7D' });
    // Yesterday at midnight UTC: a start time must lie within every window it is tested under.
    const start = Math.floor(Date.now() / DAY) * DAY - DAY;
    const startedAt = new Date(start).toISOString();
    const sixYears = new Date(start);
    sixYears.setUTCFullYear(sixYears.getUTCFullYear() + 6);
    const system = await upload(vault, 'pol-system', { query: { startedAt } });
    assert.equal(system.policy, 'default');
    assert.equal(system.retainUntil, sixYears.toISOString());

    assert.equal((await json(vault, 'PUT', '/v1/tenant-settings', admin, { defaultPolicy: 'nope' })).status, 400);
    const settings = await json(vault, 'PUT', '/v1/tenant-settings', admin, { defaultPolicy: 'month' });
    assert.equal(settings.status, 200, settings.body.toString());
    assert.deepEqual(settings.json<object>(), { tenant: 'acme', defaultPolicy: 'month', kmsKeyId: null, keyProvider: 'local', dtmf: 'keep', dtmfFill: 'silence' });
    assert.equal((await json(vault, 'GET', '/v1/tenant-settings', admin)).json<{ defaultPolicy: string }>().defaultPolicy, 'month');
    const byDefault = await upload(vault, 'pol-tenant', { query: { startedAt } });
    assert.equal(byDefault.policy, 'month');
    assert.equal(byDefault.retainUntil, new Date(start + 30 * DAY).toISOString());
    const named = await upload(vault, 'pol-named', { query: { startedAt, policy: 'week' } });
    assert.equal(named.policy, 'week');
    assert.equal(named.retainUntil, new Date(start + 7 * DAY).toISOString());
    const res = await request(vault, {
      method: 'PUT', path: '/v1/recordings/pol-unknown?policy=nope', token: await vault.token('pbx'),
      body: await readFile(fixturePath('call-ulaw-8k-mono.wav')), headers: { 'content-type': 'audio/wav' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.json<{ code: string }>().code, 'unknown_policy');
    assert.equal(await vault.deps.db('recordings').where({ call_id: 'pol-unknown' }).first(), undefined);
    const audited = (await auditEvents(vault, { action: 'policy.updated' })).find((e) => e.details.defaultPolicy === 'month');
    assert.ok(audited);
    assert.equal(await json(vault, 'PUT', '/v1/tenant-settings', admin, { defaultPolicy: null }).then((r) => r.json<{ defaultPolicy: string }>().defaultPolicy), 'default');
  });

  test('a changed policy applies to new uploads only: existing recordings keep their retainUntil', async () => {
    await json(vault, 'PUT', '/v1/retention-policies/shrink', admin, { retain: 'P1D' });
    const startedAt = new Date(Date.now() - 2 * 3_600_000).toISOString();
    const old = await upload(vault, 'shrink-old', { query: { policy: 'shrink', startedAt } });
    assert.equal(Date.parse(old.retainUntil), Date.parse(startedAt) + DAY);

    const shortened = await json(vault, 'PUT', '/v1/retention-policies/shrink', admin, { retain: 'PT1M' });
    assert.equal(shortened.status, 200);
    // Under the shortened policy the old start time is past its window (422): the new call started now.
    const freshStart = new Date().toISOString();
    const fresh = await upload(vault, 'shrink-new', { query: { policy: 'shrink', startedAt: freshStart } });
    assert.equal(Date.parse(fresh.retainUntil), Date.parse(freshStart) + 60_000);
    assert.equal((await row(vault, old.id)).retain_until?.toISOString(), old.retainUntil, 'shortening never moves an existing retainUntil');

    const pass = await runRetentionPass(vault.deps, new Date(Date.now() + 2 * 60_000));
    assert.deepEqual(pass.ids, [fresh.id], 'only the recording uploaded under the shortened policy is due');
    assert.equal((await row(vault, old.id)).status, 'active');

    await json(vault, 'PUT', '/v1/retention-policies/shrink', admin, { retain: 'P10Y' });
    assert.equal((await row(vault, old.id)).retain_until?.toISOString(), old.retainUntil, 'nor does lengthening');
  });
});
