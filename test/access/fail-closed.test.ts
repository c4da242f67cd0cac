import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setAuditInsert } from '../helpers/cluster.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { call, issueLink, play, tinyWav, upload, type IssuedLink, type Receipt } from './support.js';

/**
 * With the audit table refusing inserts, nothing that must be audited happens: no audio byte,
 * no metadata, no link. The service role loses INSERT on audit_events (as a DBA or an attacker
 * with superuser access could arrange), then gets it back.
 */
describe('fail closed when the audit log cannot be written', () => {
  let vault: TestVault;
  let recording: Receipt;
  let link: IssuedLink;
  let sup: string;

  const setInsert = (allowed: boolean): Promise<void> => setAuditInsert(vault.database.superuserUrl, allowed);

  before(async () => {
    vault = await startVault();
    sup = await vault.token('supervisor');
    recording = await upload(vault, await vault.token('pbx'), 'fail-closed', tinyWav(1, 200_000));
    link = await issueLink(vault, sup, recording.id, { reason: 'fail closed', singleUse: true });
    await setInsert(false);
  });
  after(async () => { await vault.close(); });

  test('media: 503, a problem body, and zero audio bytes; the single-use link is not spent', async () => {
    const bytesBefore = await bytesOut(vault);
    const variants: Record<string, string>[] = [{}, { range: 'bytes=0-99' }, { range: 'bytes=70000-' }];
    for (const headers of variants) {
      const res = await play(vault, link, headers);
      assert.equal(res.status, 503);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().code, 'audit_unavailable');
      assert.equal(res.headers['content-range'], undefined);
      assert.equal(res.headers.etag, undefined);
      assert.ok(!res.body.includes(Buffer.from('RIFF')), 'no audio in the body');
      assert.ok(res.body.length < 1000);
    }
    assert.equal(await bytesOut(vault), bytesBefore, 'no byte counted as sent');
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.equal(row.first_used_at, null);
  });

  test('metadata reads and link issuance fail with 503 too, and leave no link behind', async () => {
    assert.equal((await call(vault, { path: '/v1/recordings', token: sup })).status, 503);
    assert.equal((await call(vault, { path: `/v1/recordings/${recording.id}`, token: sup })).status, 503);
    const linksBefore = await vault.deps.db('links').count<{ count: number }[]>('* as count');
    const issue = await call(vault, {
      method: 'POST', path: `/v1/recordings/${recording.id}/links`, token: sup,
      headers: { 'content-type': 'application/json' }, body: '{"reason":"while audit is down"}',
    });
    assert.equal(issue.status, 503);
    assert.deepEqual(await vault.deps.db('links').count<{ count: number }[]>('* as count'), linksBefore);
    assert.equal((await call(vault, { method: 'DELETE', path: `/v1/links/${link.linkId}`, token: sup })).status, 503);
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.equal(row.revoked_at, null, 'an unaudited revocation does not happen either');
  });

  test('once the audit log takes writes again, the same link plays', async () => {
    await setInsert(true);
    const res = await play(vault, link, { range: 'bytes=0-3' });
    assert.equal(res.status, 206);
    assert.equal(res.body.toString('latin1'), 'RIFF');
  });
});

async function bytesOut(vault: TestVault): Promise<number> {
  const metric = await vault.deps.metrics.bytesOut.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}
