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

/** A sealed pii original's data key moves with key rotation, and holds its master key version until it has. */
describe('sealed originals and master key rotation', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(() => vault.close());

  const sealedKeyRef = async (redactionId: string): Promise<string | null> => {
    const row = await vault.deps.db('redaction_originals').where({ redaction_id: redactionId }).first<{ key_ref: string | null } | undefined>('key_ref');
    return row?.key_ref ?? null;
  };

  test('rewrap moves a sealed original\'s key to the new version; the old one then retires and the original stays readable', async () => {
    await json(vault, 'PUT', '/v1/redaction-settings', await vault.token('admin'), { keepPiiOriginal: true });
    const original = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const r = await upload(vault, 'sealed-keys', { body: original });
    const res = await postRedaction(vault, r.id, { ...pci(1000, 2000), category: 'pii' });
    assert.equal(res.status, 201);
    const receipt = res.json<RedactionReceipt>();
    assert.equal(await sealedKeyRef(receipt.id), 'local:v1');
    assert.equal((await json(vault, 'POST', '/v1/keys/rotate', await vault.token('admin'), {})).status, 200);
    const actor = auditActor('cli:test');

    // Until rewrap has run, the version the original needs cannot be retired.
    assert.equal((await retireMasterVersion(vault.deps, 1, actor, { graceMs: 0 })).state, 'retiring');
    await waitFor('the grace period to pass', () => vault.deps.keyVersions.gracePassed('local:v1'));
    await assert.rejects(retireMasterVersion(vault.deps, 1, actor, { graceMs: 0 }), (err: Error & { code?: string }) => err.code === 'master_key_in_use');

    const rewrapped = await rewrapDataKeys(vault.deps, actor);
    assert.equal(rewrapped.failed, 0);
    assert.ok(rewrapped.rewrapped >= 2, 'the recording and its sealed original');
    assert.equal(await sealedKeyRef(receipt.id), 'local:v2');
    assert.equal((await retireMasterVersion(vault.deps, 1, actor, { graceMs: 0 })).state, 'retired');

    const read = await request(vault, { path: `/v1/recordings/${r.id}/redactions/${receipt.id}/original`, token: await vault.token('compliance') });
    assert.equal(read.status, 200);
    assert.ok(read.body.equals(original));
  });
});
