import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { killedInCommit, killedTransactionsRolledBack } from '../retention/support.js';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, current, pci, plaintextOf, postRedaction, readAll, superuser, upload, type RedactionReceipt } from './support.js';

/**
 * A redaction killed at any point leaves the old version whole or the new one whole. The serve
 * child process below writes the redacted object, then blocks in its commit (the test holds the
 * tenant's audit log lock the commit's recording.redacted event needs) and is SIGKILLed there. The state
 * a kill right after the commit leaves (new version current, old object not yet deleted) is then
 * set up by putting the old ciphertext back after a redaction, and swept the same way.
 */
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('a redaction killed mid-way', () => {
  let vault: TestVault;
  let su: pg.Client;
  before(async () => {
    vault = await startVault();
    su = await superuser(vault);
  });
  after(async () => {
    await su.end();
    await vault.close();
  });

  test('SIGKILL before the commit: the old version is whole and served, the sweep removes the new object', async () => {
    const r = await upload(vault, 'crash-before-commit');
    const old = await current(vault, r.id);
    const compliance = await vault.token('compliance');
    const written = await killedInCommit(vault, su, (server) => request(server, {
      method: 'POST', path: `/v1/recordings/${r.id}/redactions`, token: compliance,
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(pci(2000, 4000)),
    }), 'the redaction to write its object and block in its commit');
    await killedTransactionsRolledBack(su, 'the killed redaction\'s transaction to roll back');

    const now = await current(vault, r.id);
    assert.deepEqual([now.version, now.sha256, now.objectKey], [1, r.sha256, old.objectKey], 'the old version is current');
    assert.ok(now.wrappedKey?.equals(old.wrappedKey ?? Buffer.alloc(0)), 'with its key');
    assert.equal(sha(await plaintextOf(vault, r.id)), r.sha256, 'and whole');
    assert.equal((await vault.deps.db('redactions').where({ recording_id: r.id })).length, 0);
    assert.equal((await auditEvents(vault, { action: 'recording.redacted', recordingId: r.id })).length, 0);
    assert.ok(await vault.deps.store.head(written), 'the redacted object was left behind');

    const swept = await runOrphanSweep(vault.deps, new Date(Date.now() + 1000), { graceMs: 0 });
    assert.deepEqual(swept.keys, [written], 'the sweep deletes the unreferenced new object, and only it');
    assert.ok(await vault.deps.store.head(old.objectKey ?? ''), 'the current object stays');
    const orphaned = await auditEvents(vault, { action: 'orphan.deleted', recordingId: r.id });
    assert.equal(orphaned.at(-1)?.details.objectKey, written);

    const retried = await postRedaction(vault, r.id, pci(2000, 4000));
    assert.equal(retried.status, 201, 'a retry succeeds');
  });

  test('killed after the commit: the new version is whole and served, the sweep removes the old object', async () => {
    const r = await upload(vault, 'crash-after-commit');
    const old = await current(vault, r.id);
    const oldCiphertext = await readAll(await vault.deps.store.get(old.objectKey ?? ''));
    const res = await postRedaction(vault, r.id, pci(2000, 4000));
    assert.equal(res.status, 201);
    const receipt = res.json<RedactionReceipt>();
    // What a process killed between the commit and the deletion of the original leaves behind.
    await vault.deps.store.put(old.objectKey ?? '', oldCiphertext);

    const now = await current(vault, r.id);
    assert.equal(now.version, 2);
    assert.equal(sha(await plaintextOf(vault, r.id)), receipt.sha256, 'the new version is whole');
    const swept = await runOrphanSweep(vault.deps, new Date(Date.now() + 1000), { graceMs: 0 });
    assert.deepEqual(swept.keys, [old.objectKey], 'the old object is an orphan: no key can open it, the sweep deletes it');
    assert.ok(await vault.deps.store.head(now.objectKey ?? ''), 'the new one stays');
  });
});
