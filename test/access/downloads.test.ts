import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, call, issueLink, play, tinyWav, upload, type IssuedLink, type Receipt } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('downloads: a permission apart from playback, off by default', () => {
  let vault: TestVault;
  let sup: string;
  let admin: string;
  let mine: Receipt;
  let theirs: Receipt;

  const settings = async (token: string) => {
    const res = assertContract('get', '/v1/download-settings', await call(vault, { method: 'GET', path: '/v1/download-settings', token }));
    assert.equal(res.status, 200, res.body.toString());
    return res.json<{ roles: string[]; allowed: boolean }>();
  };
  const setRoles = async (roles: string[]) => {
    const res = assertContract('put', '/v1/download-settings', await call(vault, {
      method: 'PUT', path: '/v1/download-settings', token: admin, headers: JSON_TYPE, body: JSON.stringify({ roles }),
    }));
    assert.equal(res.status, 200, res.body.toString());
  };
  const download = async (token: string, id: string, reason = 'evidence for case 77') => assertContract('post', '/v1/recordings/{id}/downloads', await call(vault, {
    method: 'POST', path: `/v1/recordings/${id}/downloads`, token, headers: JSON_TYPE, body: JSON.stringify({ reason }),
  }));

  before(async () => {
    vault = await startVault();
    sup = await vault.token('supervisor', { sub: 'sup-1' });
    admin = await vault.token('admin', { sub: 'adm-1' });
    const pbx = await vault.token('pbx');
    mine = await upload(vault, pbx, 'dl-1', tinyWav(1, 4096), { agentId: 'agent-1' });
    theirs = await upload(vault, pbx, 'dl-2', tinyWav(2, 4096), { agentId: 'agent-2' });
  });
  after(async () => { await vault.close(); });

  test('nobody may download until an admin allows a role; the refusal is audited', async () => {
    assert.deepEqual(await settings(sup), { roles: [], allowed: false });
    const res = await download(sup, mine.id);
    assert.equal(res.status, 403);
    assert.equal(res.json<{ code: string }>().code, 'download_not_permitted');
    const [denied] = await auditRows(vault, { action: 'download.issued' });
    assert.equal(denied?.outcome, 'denied');
    assert.equal(denied?.actor_sub, 'sup-1');
    assert.equal(await vault.deps.db('links').count<{ n: string }[]>({ n: '*' }).first().then((r) => Number(r?.n)), 0);
  });

  test('a download link is audited as download.issued, and its use as media.downloaded, served as an attachment', async () => {
    await setRoles(['supervisor']);
    const [change] = await auditRows(vault, { action: 'download.settings_updated' });
    assert.deepEqual(change?.details, { before: [], after: ['supervisor'] });
    assert.deepEqual(await settings(sup), { roles: ['supervisor'], allowed: true });

    const res = await download(sup, mine.id);
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.headers['cache-control'], 'no-store');
    const link = res.json<IssuedLink>();
    const [issued] = await auditRows(vault, { action: 'download.issued', link_id: link.linkId });
    assert.equal(issued?.details.reason, 'evidence for case 77');
    assert.equal(issued?.details.purpose, 'download');
    assert.equal(issued?.actor_role, 'supervisor');
    assert.deepEqual(await auditRows(vault, { action: 'link.issued', link_id: link.linkId }), []);

    const got = await play(vault, link, { range: 'bytes=0-99' });
    assert.equal(got.status, 206);
    assert.match(String(got.headers['content-disposition']), /^attachment; filename="[0-9a-f-]+\.wav"$/);
    const [read] = await auditRows(vault, { action: 'media.downloaded', link_id: link.linkId });
    assert.equal(read?.details.range, 'bytes=0-99');
    assert.deepEqual(await auditRows(vault, { action: 'media.read', link_id: link.linkId }), []);
  });

  test('a playback link stays a play: link.issued, media.read, inline', async () => {
    const link = await issueLink(vault, sup, mine.id, { reason: 'QA listen' });
    const got = await play(vault, link);
    assert.equal(got.status, 200);
    assert.match(String(got.headers['content-disposition']), /^inline;/);
    assert.equal((await auditRows(vault, { action: 'media.read', link_id: link.linkId })).length, 1);
    assert.deepEqual(await auditRows(vault, { action: 'media.downloaded', link_id: link.linkId }), []);
  });

  test('roles not allowed stay refused; an allowed agent downloads only their own recordings', async () => {
    const compliance = await vault.token('compliance', { sub: 'co-1' });
    assert.equal((await download(compliance, mine.id)).status, 403);
    await setRoles(['agent', 'supervisor']);
    const agent = await vault.token('agent', { sub: 'agent-1' });
    assert.equal((await download(agent, mine.id)).status, 201);
    const other = await download(agent, theirs.id);
    assert.equal(other.status, 404);
  });

  test('another tenant sees neither the recording nor the grant', async () => {
    const globex = await vault.token('supervisor', { sub: 'sup-1', tenant: 'globex' });
    assert.deepEqual(await settings(globex), { roles: [], allowed: false });
    await call(vault, {
      method: 'PUT', path: '/v1/download-settings', token: await vault.token('admin', { tenant: 'globex' }), headers: JSON_TYPE,
      body: JSON.stringify({ roles: ['supervisor'] }),
    });
    assert.equal((await download(globex, mine.id)).status, 404);
  });

  test('concurrent changes of the setting all succeed and leave exactly one of the sets, not a mix', async () => {
    const sets = [[], ['agent'], ['supervisor'], ['compliance'], ['agent', 'supervisor'], ['agent', 'compliance'], ['compliance', 'supervisor'], ['agent', 'compliance', 'supervisor']];
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([...sets, ...sets].map((roles) => call(vault, {
        method: 'PUT', path: '/v1/download-settings', token: admin, headers: JSON_TYPE, body: JSON.stringify({ roles }),
      })));
      assert.deepEqual(answers.map((r) => r.status), answers.map(() => 200), answers.map((r) => r.body.toString()).join('\n'));
      const final = (await settings(admin)).roles;
      assert.ok(sets.some((set) => JSON.stringify(set) === JSON.stringify(final)), `final roles ${JSON.stringify(final)}`);
    }
    await setRoles(['supervisor']);
  });

  test('only admins change the setting, and only to roles that view recordings', async () => {
    const bySup = await call(vault, { method: 'PUT', path: '/v1/download-settings', token: sup, headers: JSON_TYPE, body: JSON.stringify({ roles: [] }) });
    assert.equal(bySup.status, 403);
    const pbx = await call(vault, { method: 'PUT', path: '/v1/download-settings', token: admin, headers: JSON_TYPE, body: JSON.stringify({ roles: ['pbx'] }) });
    assert.equal(pbx.status, 400);
  });
});
