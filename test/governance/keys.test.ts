import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { auditActor } from '../../src/audit/actor.js';
import { KeyAccessError, type KeyProvider } from '../../src/keys/index.js';
import { rewrapDataKeys, rotateMasterKey } from '../../src/keys/rotation.js';
import { openPlayback } from '../../src/media/playback.js';
import { FIXTURE_FILES, fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, runCli, upload, waitFor } from '../retention/support.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function plays(vault: TestVault, tenant: string, id: string, fixture: (typeof FIXTURE_FILES)[number]): Promise<void> {
  const recording = await vault.deps.recordings.findActive(tenant, id);
  assert.ok(recording);
  assert.equal(sha(await buffer(await openPlayback(vault.deps, recording))), sha(await readFile(fixturePath(fixture))), `${fixture} plays byte for byte`);
}

/** sha256 and mtime of every stored object: a rewrap must leave them all as they were. */
async function objectsFingerprint(vault: TestVault): Promise<string> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${p} ${sha(await readFile(p))} ${(await stat(p)).mtimeMs}`);
    }
  };
  await walk(path.join(vault.dataDir, 'objects', 'recordings'));
  return out.sort().join('\n');
}

async function keyRefs(vault: TestVault, ids: string[]): Promise<string[]> {
  const rows = await vault.deps.db('recordings').whereIn('id', ids).select<{ key_ref: string }[]>('key_ref');
  return [...new Set(rows.map((r) => r.key_ref))];
}

describe('local master key rotation', () => {
  let vault: TestVault;
  const uploaded: Array<{ id: string; fixture: (typeof FIXTURE_FILES)[number] }> = [];
  before(async () => {
    vault = await startVault();
    for (const fixture of FIXTURE_FILES) uploaded.push({ id: (await upload(vault, `rot-${fixture}`, { fixture })).id, fixture });
  });
  after(async () => { await vault.close(); });

  test('rotate, rewrap and retire: every fixture still plays with the old master key file gone', async () => {
    const ids = uploaded.map((u) => u.id);
    assert.deepEqual(await keyRefs(vault, ids), ['local:v1']);
    const rotated = await runCli(vault, ['keys', 'rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /local:v2 \(was local:v1\)/);

    // The grace is the retiring CLI's HTTP_REQUEST_TIMEOUT_MS plus a margin: 7 s here.
    const shortGrace = { HTTP_REQUEST_TIMEOUT_MS: '6000' };
    const started = await runCli(vault, ['keys', 'retire', '--version', '1'], shortGrace);
    assert.equal(started.code, 75, started.stderr);
    assert.match(started.stderr, /local:v1 is now retiring/);
    assert.match(started.stderr, /run `callvault keys rewrap`, then `callvault keys retire --version 1` again/);
    const early = await runCli(vault, ['keys', 'retire', '--version', '1'], shortGrace);
    assert.equal(early.code, 75, early.stderr);
    assert.match(early.stderr, /grace period \(HTTP_REQUEST_TIMEOUT_MS plus a margin\) ends at/);
    await waitFor('the grace period to pass', async () => (await vault.deps.keyVersions.gracePassed('local:v1')), 20_000);
    const refused = await runCli(vault, ['keys', 'retire', '--version', '1'], shortGrace);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /4 recording\(s\) still have data keys wrapped under local:v1/);
    await access(path.join(vault.dataDir, 'keys', 'master-v1.key'));

    const before = await objectsFingerprint(vault);
    const rewrap = await runCli(vault, ['keys', 'rewrap']);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    assert.match(rewrap.stdout, /rewrapped 4 data key\(s\), 0 failed/);
    assert.deepEqual(await keyRefs(vault, ids), ['local:v2']);
    assert.equal(await objectsFingerprint(vault), before, 'no object was rewritten');

    const retired = await runCli(vault, ['keys', 'retire', '--version', '1'], shortGrace);
    assert.equal(retired.code, 0, retired.stderr);
    await assert.rejects(access(path.join(vault.dataDir, 'keys', 'master-v1.key')), 'the old master key file is gone');
    for (const u of uploaded) await plays(vault, 'acme', u.id, u.fixture);

    const status = await runCli(vault, ['keys', 'status']);
    assert.match(status.stdout, /^local:v2\t4$/m);
    assert.match(status.stdout, /^version local:v1 retired$/m);
    assert.match(status.stdout, /^version local:v2 active$/m);
    const events = await auditEvents(vault, { action: 'keys.rotated' });
    assert.deepEqual(events.map((e) => e.details.operation), ['rotate', 'retire_started', 'rewrap', 'retire']);
    assert.equal(events[2]?.details.rewrapped, 4);
  });

  test('rewrap is resumable: a second run picks up only what the first could not do', async () => {
    const { keyRef: target } = await rotateMasterKey(vault.deps, auditActor('cli:test'));
    let calls = 0;
    const failing: KeyProvider = Object.create(vault.deps.keys) as KeyProvider;
    failing.rewrap = async (...args) => {
      if (++calls > 2) throw new KeyAccessError('simulated outage');
      return vault.deps.keys.rewrap(...args);
    };
    const deps = { ...vault.deps, keys: failing };
    const first = await rewrapDataKeys(deps, auditActor('cli:test'), { concurrency: 1 });
    assert.deepEqual([first.rewrapped, first.failed], [2, 2]);
    const second = await rewrapDataKeys(vault.deps, auditActor('cli:test'));
    assert.deepEqual([second.rewrapped, second.failed], [2, 0], 'only the two left over');
    assert.deepEqual(await keyRefs(vault, uploaded.map((u) => u.id)), [target]);
    for (const u of uploaded) await plays(vault, 'acme', u.id, u.fixture);
  });

  test('POST /v1/keys/rotate (admin) adds a master version', async () => {
    assert.equal((await json(vault, 'POST', '/v1/keys/rotate', await vault.token('compliance'), {})).status, 403);
    const before = vault.deps.keys.currentKeyRef();
    const res = await json(vault, 'POST', '/v1/keys/rotate', await vault.token('admin'), {});
    assert.equal(res.status, 200, res.body.toString());
    const body = res.json<{ keyRef: string; previous: string }>();
    assert.equal(body.previous, before);
    assert.notEqual(body.keyRef, before);
    assert.equal(vault.deps.keys.currentKeyRef(), body.keyRef, 'new data keys use it at once');
  });
});

describe('tenant KMS key rotation (BYOK)', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault({ keys: 'aws-kms' }); });
  after(async () => { await vault.close(); });

  test('keys rotate --tenant --kms-key-id, then rewrap via ReEncrypt; acme plays with its old key disabled', async () => {
    assert.ok(vault.kms && vault.config.keys.kind === 'aws-kms');
    const oldKey = vault.config.keys.keyId;
    const acme = [
      { id: (await upload(vault, 'kms-1', { fixture: 'call-16k-mono.opus' })).id, fixture: 'call-16k-mono.opus' as const },
      { id: (await upload(vault, 'kms-2', { fixture: 'call-pcm16-8k-stereo.wav' })).id, fixture: 'call-pcm16-8k-stereo.wav' as const },
    ];
    const globex = (await upload(vault, 'kms-3', { tenant: 'globex' })).id;
    const newKey = vault.kms.createKey();
    const disabled = vault.kms.createKey();
    vault.kms.disableKey(disabled);
    const refused = await runCli(vault, ['keys', 'rotate', '--tenant', 'acme', '--kms-key-id', disabled]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot generate data keys with this KMS key/);
    assert.equal((await vault.deps.tenants.get('acme')).kmsKeyId, null, 'an unusable key is not recorded');

    const rotated = await runCli(vault, ['keys', 'rotate', '--tenant', 'acme', '--kms-key-id', newKey]);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal((await vault.deps.tenants.get('acme')).kmsKeyId, newKey);
    const reEncryptsBefore = vault.kms.calls.ReEncrypt ?? 0;
    const decryptsBefore = vault.kms.calls.Decrypt ?? 0;
    const rewrap = await runCli(vault, ['keys', 'rewrap', '--tenant', 'acme']);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    assert.equal((vault.kms.calls.ReEncrypt ?? 0) - reEncryptsBefore, 2, 'one ReEncrypt per data key');
    assert.equal((vault.kms.calls.Decrypt ?? 0) - decryptsBefore, 0, 'no data key left KMS in plain text');
    assert.deepEqual(await keyRefs(vault, acme.map((a) => a.id)), [newKey]);
    assert.deepEqual(await keyRefs(vault, [globex]), [oldKey]);

    const fresh = await upload(vault, 'kms-4');
    assert.deepEqual(await keyRefs(vault, [fresh.id]), [newKey], 'new uploads of the tenant use its key');
    vault.deps.keyCache.clear();
    vault.kms.disableKey(oldKey);
    for (const a of acme) await plays(vault, 'acme', a.id, a.fixture);
    const events = await auditEvents(vault, { action: 'keys.rotated' });
    assert.deepEqual(events.map((e) => [e.tenant, e.details.operation]), [['acme', 'tenant_kms_key'], ['acme', 'rewrap']]);
  });
});
