import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { call } from './support.js';
import { createDb } from '../../src/db/knex.js';
import { up as dropSavedPhones } from '../../migrations/20261202000203_saved_searches_without_phones.js';

const JSON_TYPE = { 'content-type': 'application/json' };

interface Saved { id: string; name: string; query: Record<string, string>; createdAt: string }

describe('saved searches', () => {
  let vault: TestVault;
  let alice: string;
  let bob: string;
  let otherTenant: string;

  const save = (token: string, body: unknown) => call(vault, {
    method: 'POST', path: '/v1/saved-searches', token, headers: JSON_TYPE, body: JSON.stringify(body),
  });
  const list = async (token: string): Promise<Saved[]> => {
    const res = assertContract('get', '/v1/saved-searches', await call(vault, { method: 'GET', path: '/v1/saved-searches', token }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    return res.json<{ items: Saved[] }>().items;
  };

  before(async () => {
    vault = await startVault();
    alice = await vault.token('supervisor', { sub: 'alice' });
    bob = await vault.token('supervisor', { sub: 'bob' });
    otherTenant = await vault.token('supervisor', { sub: 'alice', tenant: 'globex' });
  });
  after(async () => { await vault.close(); });

  test('a saved search keeps no phone number: the vault holds numbers only as keyed hashes, which erasure reaches', async () => {
    for (const key of ['phone', 'from', 'to']) {
      const res = assertContract('post', '/v1/saved-searches', await save(alice, { name: `by ${key}`, query: { direction: 'inbound', [key]: '+14155550100' } }));
      assert.equal(res.status, 400, key);
      assert.equal(res.json<{ code: string }>().code, 'invalid_query');
      assert.match(res.json<{ detail: string }>().detail, new RegExp(`^query\\.${key}: a saved search does not keep phone numbers`));
    }
    assert.equal(await vault.deps.db('saved_searches').whereRaw("query::text LIKE '%14155550100%'").first(), undefined, 'nothing of the number was stored');
  });

  test('searches saved with a phone number before lose it to the migration; one left with no filter goes', async () => {
    const row = (name: string, query: Record<string, string>) => ({ id: randomUUID(), tenant: 'acme', owner_sub: 'erin', name, query: JSON.stringify(query) });
    await vault.deps.db('saved_searches').insert([row('by phone', { phone: '+14155550100' }), row('vip from', { tags: 'vip', from: '+14155550101', to: '+14155550102' })]);
    const owner = createDb({ url: vault.database.adminUrl, poolMax: 1 });
    try {
      await dropSavedPhones(owner);
    } finally {
      await owner.destroy();
    }
    const left = await vault.deps.db('saved_searches').where({ owner_sub: 'erin' }).select<{ name: string; query: unknown }[]>('name', 'query');
    assert.deepEqual(left, [{ name: 'vip from', query: { tags: 'vip' } }]);
  });

  test('a search is saved, listed for its owner only, runs as GET /v1/recordings, and is deleted', async () => {
    const query = { direction: 'inbound', tags: 'vip,billing', startedAfter: '2026-11-01T00:00:00Z', agentId: '' };
    const res = assertContract('post', '/v1/saved-searches', await save(alice, { name: 'VIP billing calls', query }));
    assert.equal(res.status, 201, res.body.toString());
    const saved = res.json<Saved>();
    // Empty fields of the form are not part of the filter.
    assert.deepEqual(saved.query, { direction: 'inbound', tags: 'vip,billing', startedAfter: '2026-11-01T00:00:00Z' });
    assert.deepEqual((await list(alice)).map((s) => s.id), [saved.id]);
    assert.deepEqual(await list(bob), []);
    assert.deepEqual(await list(otherTenant), []);

    const run = await call(vault, { method: 'GET', path: `/v1/recordings?${new URLSearchParams(saved.query).toString()}`, token: alice });
    assert.equal(run.status, 200, run.body.toString());

    const byBob = await call(vault, { method: 'DELETE', path: `/v1/saved-searches/${saved.id}`, token: bob });
    assert.equal(byBob.status, 404);
    const byOtherTenant = await call(vault, { method: 'DELETE', path: `/v1/saved-searches/${saved.id}`, token: otherTenant });
    assert.equal(byOtherTenant.status, 404);
    const del = await call(vault, { method: 'DELETE', path: `/v1/saved-searches/${saved.id}`, token: alice });
    assert.equal(del.status, 204);
    assert.deepEqual(await list(alice), []);
  });

  test('a name is unique per user, not across users', async () => {
    assert.equal((await save(alice, { name: 'outbound', query: { direction: 'outbound' } })).status, 201);
    const again = assertContract('post', '/v1/saved-searches', await save(alice, { name: 'outbound', query: { direction: 'inbound' } }));
    assert.equal(again.status, 409);
    assert.equal(again.json<{ code: string }>().code, 'saved_search_exists');
    assert.equal((await save(bob, { name: 'outbound', query: { direction: 'outbound' } })).status, 201);
  });

  test('a query the search would refuse is refused at saving, naming the field', async () => {
    for (const [query, field] of [
      [{ direction: 'sideways' }, 'direction'], [{ startedAfter: 'yesterday' }, 'startedAfter'], [{ color: 'red' }, 'color'],
      [{ cursor: 'abc.def' }, 'cursor'], [{ limit: '5' }, 'limit'], [{ tag: 'vip' }, 'tag'],
    ] as const) {
      const res = assertContract('post', '/v1/saved-searches', await save(alice, { name: `bad ${field}`, query }));
      assert.equal(res.status, 400, `${field}: ${res.body.toString()}`);
      assert.match(res.json<{ detail: string }>().detail, new RegExp(field));
    }
    assert.equal((await save(alice, { name: '', query: {} })).status, 400);
    assert.equal((await save(alice, { name: 'numbers', query: { limit: 5 } })).status, 400);
  });

  test('a user has at most 100 saved searches', async () => {
    const carol = await vault.token('agent', { sub: 'carol' });
    for (let i = 0; i < 100; i++) assert.equal((await save(carol, { name: `s${i}`, query: { direction: 'inbound' } })).status, 201);
    const over = await save(carol, { name: 's100', query: {} });
    assert.equal(over.status, 409);
    assert.equal(over.json<{ code: string }>().code, 'saved_search_limit');
  });

  test('concurrent saves at the limit stop at 100', async () => {
    const dave = await vault.token('agent', { sub: 'dave' });
    for (let i = 0; i < 96; i++) assert.ok(await vault.deps.savedSearches.insert({ tenant: 'acme', sub: 'dave' }, { id: randomUUID(), name: `s${i}`, query: {} }));
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => save(dave, { name: `race${i}`, query: {} })));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array<number>(4).fill(201), ...Array<number>(12).fill(409)]);
    assert.ok(answers.filter((r) => r.status === 409).every((r) => r.json<{ code: string }>().code === 'saved_search_limit'));
    assert.equal((await list(dave)).length, 100);
  });

  test('a principal that may not list recordings may not save searches', async () => {
    const res = await call(vault, { method: 'GET', path: '/v1/saved-searches', token: await vault.token('pbx') });
    assert.equal(res.status, 403);
  });
});
