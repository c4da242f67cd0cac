import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { auditActor } from '../../src/audit/actor.js';
import { retireMasterVersion } from '../../src/keys/retire.js';
import { rewrapDataKeys } from '../../src/keys/rotation.js';
import { request } from '../helpers/http.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { json, pci, postRedaction, upload, waitFor, type RedactionReceipt } from './support.js';

/** A sealed pii original keeps the master key version that wraps its data key from being retired. */
describe('sealed originals and master key retirement', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(() => vault.close());

  test('retiring the version a sealed original needs is refused, and the original stays readable', async () => {
    await json(vault, 'PUT', '/v1/redaction-settings', await vault.token('admin'), { keepPiiOriginal: true });
    const original = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const r = await upload(vault, 'sealed-keys', { body: original });
    const res = await postRedaction(vault, r.id, { ...pci(1000, 2000), category: 'pii' });
    assert.equal(res.status, 201);
    const receipt = res.json<RedactionReceipt>();
    assert.equal((await json(vault, 'POST', '/v1/keys/rotate', await vault.token('admin'), {})).status, 200);
    const actor = auditActor('cli:test');
    const rewrapped = await rewrapDataKeys(vault.deps, actor);
    assert.equal(rewrapped.failed, 0);

    const started = await retireMasterVersion(vault.deps, 1, actor, { graceMs: 0 });
    assert.equal(started.state, 'retiring');
    await waitFor('the grace period to pass', () => vault.deps.keyVersions.gracePassed('local:v1'));
    await assert.rejects(retireMasterVersion(vault.deps, 1, actor, { graceMs: 0 }), (err: Error & { code?: string }) => err.code === 'master_key_in_use');

    const read = await request(vault, { path: `/v1/recordings/${r.id}/redactions/${receipt.id}/original`, token: await vault.token('compliance') });
    assert.equal(read.status, 200);
    assert.ok(read.body.equals(original));
  });
});
