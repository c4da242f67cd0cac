import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, auditText, call, tinyWav, upload, type Page, type Receipt } from './support.js';

describe('metadata search', () => {
  let vault: TestVault;
  let sup: string;
  const byCall = new Map<string, Receipt>();
  let seed = 0;

  const put = async (callId: string, meta: Record<string, string> = {}): Promise<Receipt> => {
    const r = await upload(vault, await vault.token('pbx'), callId, tinyWav(seed++), meta);
    byCall.set(callId, r);
    return r;
  };
  const search = async (query: string, token = sup): Promise<Page> => {
    const res = await call(vault, { path: `/v1/recordings${query ? `?${query}` : ''}`, token });
    assert.equal(res.status, 200, res.body.toString());
    return res.json<Page>();
  };
  const callIds = (page: Page): string[] => page.items.map((i) => i.callId);

  before(async () => {
    vault = await startVault();
    sup = await vault.token('supervisor');
    await put('s-jan', { startedAt: '2026-01-10T09:00:00Z', direction: 'inbound', from: '+1 (415) 555-0100', to: '2001', agentId: 'agent-a', tags: 'vip,billing' });
    await put('s-feb', { startedAt: '2026-02-10T09:00:00Z', direction: 'outbound', from: '2002', to: '+44 20 7946 0958', agentId: 'agent-b', tags: 'billing' });
    await put('s-mar', { startedAt: '2026-03-10T09:00:00Z', direction: 'internal', from: '2003', to: '2004', agentId: 'agent-a', tags: 'training' });
    await put('s-apr', { startedAt: '2026-04-10T09:00:00Z', direction: 'inbound', from: '4155550100', to: '2005', agentId: 'agent-c' });
    // No startedAt: sorted and filtered by its upload time.
    await put('s-now', { direction: 'inbound', to: '14155550100' });
  });
  after(async () => { await vault.close(); });

  test('newest first on startedAt, falling back to the upload time', async () => {
    assert.deepEqual(callIds(await search('')), ['s-now', 's-apr', 's-mar', 's-feb', 's-jan']);
  });

  test('startedAfter is inclusive, startedBefore exclusive, on startedAt (or createdAt)', async () => {
    assert.deepEqual(callIds(await search('startedAfter=2026-02-10T09:00:00Z&startedBefore=2026-04-10T09:00:00Z')), ['s-mar', 's-feb']);
    assert.deepEqual(callIds(await search('startedAfter=2026-03-01T00:00:00%2B01:00')), ['s-now', 's-apr', 's-mar']);
    assert.deepEqual(callIds(await search('startedBefore=2026-02-10T09:00:00Z')), ['s-jan']);
    const today = new Date(Date.now() - 3_600_000).toISOString();
    assert.deepEqual(callIds(await search(`startedAfter=${today}`)), ['s-now']);
  });

  test('agentId, callId, direction and tags each narrow the result', async () => {
    assert.deepEqual(callIds(await search('agentId=agent-a')), ['s-mar', 's-jan']);
    assert.deepEqual(callIds(await search('callId=s-feb')), ['s-feb']);
    assert.deepEqual(callIds(await search('direction=inbound')), ['s-now', 's-apr', 's-jan']);
    assert.deepEqual(callIds(await search('tags=billing')), ['s-feb', 's-jan']);
    assert.deepEqual(callIds(await search('tags=billing&agentId=agent-a')), ['s-jan']);
    assert.deepEqual(callIds(await search('tags=nope')), []);
  });

  test('tags takes the comma list of the upload, and every tag must match', async () => {
    assert.deepEqual(callIds(await search('tags=vip,billing')), ['s-jan']);
    assert.deepEqual(callIds(await search(`tags=${encodeURIComponent(' billing , vip ,')}`)), ['s-jan']);
    assert.deepEqual(callIds(await search('tags=billing,training')), []);
    for (const query of ['tags=billing&tags=vip', 'tags=,', `tags=${Array.from({ length: 33 }, (_, i) => `t${i}`).join(',')}`]) {
      const res = await call(vault, { path: `/v1/recordings?${query}`, token: sup });
      assert.equal(res.status, 400, query);
      assert.match(String(res.json().detail), /tags/, query);
    }
  });

  test('from and to match the caller and the callee number as on upload, in any formatting', async () => {
    assert.deepEqual(callIds(await search(`from=${encodeURIComponent('+1 415-555-0100')}`)), ['s-apr', 's-jan']);
    assert.deepEqual(callIds(await search('to=%2B14155550100')), ['s-now']);
    assert.deepEqual(callIds(await search('to=2001')), ['s-jan']);
    assert.deepEqual(callIds(await search(`to=${encodeURIComponent('020 7946 0958')}&from=2002`)), []);
    assert.deepEqual(callIds(await search(`to=${encodeURIComponent('+44 20 7946 0958')}&from=2002`)), ['s-feb']);
    assert.deepEqual(callIds(await search('from=2002&to=2001')), []);
    assert.deepEqual(callIds(await search('from=4155550100&startedBefore=2026-03-01T00:00:00Z')), ['s-jan']);
  });

  test('the former names answer 400 naming the parameter that replaced them', async () => {
    const cases: Array<[string, RegExp]> = [
      ['tag=billing', /use tags/],
      ['from=2026-02-10T09:00:00Z', /use startedAfter/],
      ['to=2026-04-10T09:00:00%2B02:00', /use startedBefore/],
      ['from=2026-02-10T09:00:00Z&to=2026-04-10T09:00:00Z', /startedAfter/],
    ];
    for (const [query, detail] of cases) {
      const res = await call(vault, { path: `/v1/recordings?${query}`, token: sup });
      assert.equal(res.status, 400, query);
      assert.equal(res.json().code, 'invalid_query', query);
      assert.match(String(res.json().detail), detail, query);
    }
  });

  test('phone matches from or to whatever the formatting, through the hash only', async () => {
    const formats = ['+1 (415) 555-0100', '14155550100', '415-555-0100', '+14155550100', '001 415 555 0100'];
    for (const phone of formats) {
      assert.deepEqual(callIds(await search(`phone=${encodeURIComponent(phone)}`)), ['s-now', 's-apr', 's-jan'], phone);
    }
    assert.deepEqual(callIds(await search(`phone=${encodeURIComponent('+442079460958')}`)), ['s-feb']);
    assert.deepEqual(callIds(await search('phone=2004')), ['s-mar']);
    assert.deepEqual(callIds(await search('phone=%2B15555550199')), []);
  });

  test('recording.listed is audited with filters and count, and the phone only as its hash', async () => {
    const res = await call(vault, { path: `/v1/recordings?phone=${encodeURIComponent('+1 (415) 555-0100')}&direction=inbound`, token: sup });
    const [row] = await auditRows(vault, { action: 'recording.listed', request_id: String(res.headers['x-request-id']) });
    assert.ok(row);
    assert.equal(row.actor_sub, 'supervisor-1');
    assert.equal(row.tenant, 'acme');
    assert.equal(row.outcome, 'allowed');
    assert.equal(row.details.count, 3);
    const filters = row.details.filters as Record<string, unknown>;
    assert.equal(filters.direction, 'inbound');
    assert.match(String(filters.phoneHash), /^[0-9a-f]{64}$/);
    assert.equal(filters.phone, undefined);
    const byNumber = await call(vault, { path: `/v1/recordings?from=${encodeURIComponent('+1 (415) 555-0100')}&to=2001`, token: sup });
    const [numbers] = await auditRows(vault, { action: 'recording.listed', request_id: String(byNumber.headers['x-request-id']) });
    const numberFilters = numbers?.details.filters as Record<string, unknown>;
    assert.match(String(numberFilters.fromHash), /^[0-9a-f]{64}$/);
    assert.match(String(numberFilters.toHash), /^[0-9a-f]{64}$/);
    assert.equal(numberFilters.from, undefined);
    const all = await auditText(vault);
    assert.ok(!all.includes('555-0100') && !all.includes('4155550100'), 'no phone number in plain text in the audit log');
  });

  test('bad parameters answer 400', async () => {
    for (const query of [
      'limit=501', 'limit=0', 'limit=abc', 'limit=1.5', 'limit=-1', 'direction=sideways', 'startedAfter=yesterday',
      'startedAfter=2026-03-01T00:00:00', 'startedAfter=2026-05-01T00:00:00Z&startedBefore=2026-04-01T00:00:00Z',
      'startedBefore=2026-04-01T00:00:00Z&startedAfter=2026-04-01T00:00:00Z', 'agent=agent-a', 'limit=5&limit=6',
      `from=${'1'.repeat(65)}`, 'tags=',
    ]) {
      const res = await call(vault, { path: `/v1/recordings?${query}`, token: sup });
      assert.equal(res.status, 400, query);
      assert.equal(res.json().code, 'invalid_query', query);
    }
    const max = await call(vault, { path: '/v1/recordings?limit=500', token: sup });
    assert.equal(max.status, 200);
  });
});

describe('keyset pagination', () => {
  let vault: TestVault;
  let sup: string;
  const ids = new Set<string>();
  const TOTAL = 23;

  before(async () => {
    vault = await startVault();
    sup = await vault.token('supervisor');
    const pbx = await vault.token('pbx');
    for (let i = 0; i < TOTAL; i++) {
      // Runs of identical startedAt, and some without: the id must break ties, page boundaries included.
      const meta: Record<string, string> = i % 5 === 4 ? {} : { startedAt: `2026-06-0${1 + (i % 3)}T12:00:00Z` };
      const r = await upload(vault, pbx, `page-${i}`, tinyWav(i), { ...meta, tags: i % 2 === 0 ? 'even' : 'odd' });
      ids.add(r.id);
    }
  });
  after(async () => { await vault.close(); });

  const walk = async (query: string, limit: number): Promise<{ seen: string[]; pages: number }> => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await call(vault, { path: `/v1/recordings?${qs}`, token: sup });
      assert.equal(res.status, 200, res.body.toString());
      const page = res.json<Page>();
      assert.ok(page.items.length <= limit);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages++;
      assert.ok(pages <= TOTAL + 1, 'pagination terminates');
    } while (cursor);
    return { seen, pages };
  };

  test('every recording appears exactly once, in order, across pages', async () => {
    for (const limit of [1, 5, 7, 23, 50]) {
      const { seen, pages } = await walk('', limit);
      assert.equal(seen.length, TOTAL, `limit ${limit}`);
      assert.deepEqual(new Set(seen), ids);
      assert.equal(pages, limit >= TOTAL ? 1 : Math.ceil(TOTAL / limit));
      const single = await call(vault, { path: `/v1/recordings?limit=${TOTAL}`, token: sup });
      assert.deepEqual(seen, single.json<Page>().items.map((i) => i.id), 'same order as one big page');
    }
  });

  test('pagination with a filter keeps the filter', async () => {
    const { seen } = await walk('tags=even', 4);
    assert.equal(seen.length, 12);
  });

  test('the last page has nextCursor null', async () => {
    const res = await call(vault, { path: `/v1/recordings?limit=${TOTAL}`, token: sup });
    assert.equal(res.json<Page>().nextCursor, null);
    const short = await call(vault, { path: `/v1/recordings?limit=${TOTAL - 1}`, token: sup });
    assert.equal(typeof short.json<Page>().nextCursor, 'string');
  });

  test('a forged, altered or transplanted cursor answers 400 invalid_cursor', async () => {
    const first = (await call(vault, { path: '/v1/recordings?limit=3', token: sup })).json<Page>();
    const cursor = first.nextCursor ?? '';
    const [payload = '', mac = ''] = cursor.split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { k: string; i: string };
    const forgedPayload = Buffer.from(JSON.stringify({ ...decoded, k: '2099-01-01 00:00:00+00' })).toString('base64url');
    const flipped = `${payload.slice(0, -1)}${payload.endsWith('A') ? 'B' : 'A'}.${mac}`;
    const bad = ['garbage', '', '.', `${payload}.`, `${forgedPayload}.${mac}`, flipped, `${payload}.${mac}.x`, `${cursor}x`];
    for (const c of bad) {
      const res = await call(vault, { path: `/v1/recordings?cursor=${encodeURIComponent(c)}`, token: sup });
      assert.equal(res.status, 400, c);
      assert.ok(['invalid_cursor', 'invalid_query'].includes(String(res.json().code)), c);
    }
    const garbage = await call(vault, { path: '/v1/recordings?cursor=garbage', token: sup });
    assert.equal(garbage.json().code, 'invalid_cursor');
    for (const other of ['tags=even', 'startedAfter=2026-01-01T00:00:00Z', 'phone=2001', 'from=2001', 'to=2001']) {
      const otherFilters = await call(vault, { path: `/v1/recordings?${other}&limit=3&cursor=${encodeURIComponent(cursor)}`, token: sup });
      assert.equal(otherFilters.json().code, 'invalid_cursor', other);
    }
    const otherTenant = await call(vault, { path: `/v1/recordings?cursor=${encodeURIComponent(cursor)}`, token: await vault.token('supervisor', { tenant: 'globex' }) });
    assert.equal(otherTenant.json().code, 'invalid_cursor');
    const good = await call(vault, { path: `/v1/recordings?limit=3&cursor=${encodeURIComponent(cursor)}`, token: sup });
    assert.equal(good.status, 200);
  });
});
