import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, DependencyError } from '../../src/errors.js';
import { createKeyProvider, KeyAccessError, KeyConfigError, LocalKeyProvider } from '../../src/keys/index.js';

const ctx = { tenant: 'acme', recordingId: 'rec-0001' };
let root: string;

async function freshDir(): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(root, 'case-')), 'keys');
}

async function mode(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

function rejectsWith(code: string): (err: unknown) => boolean {
  return (err) => err instanceof KeyAccessError && err.code === code && err.status === 500;
}

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'callvault-keys-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('LocalKeyProvider', () => {
  test('creates v1 as 32 raw bytes, file 0600 in a 0700 directory', async () => {
    const dir = await freshDir();
    const keys = await LocalKeyProvider.open(dir, { create: true });
    assert.equal(keys.kind, 'local');
    assert.equal(keys.currentKeyRef(), 'local:v1');
    const file = path.join(dir, 'master-v1.key');
    assert.equal((await fs.readFile(file)).length, 32);
    assert.equal(await mode(file), 0o600);
    assert.equal(await mode(dir), 0o700);
    assert.deepEqual(await fs.readdir(dir), ['master-v1.key']);
  });

  test('round trip: the unwrapped key equals the generated one', async () => {
    const keys = await LocalKeyProvider.open(await freshDir(), { create: true });
    const dk = await keys.generateDataKey(ctx);
    assert.equal(dk.plaintext.length, 32);
    assert.equal(dk.wrapped.length, 61);
    assert.equal(dk.wrapped[0], 0x01);
    assert.equal(dk.keyRef, 'local:v1');
    assert.ok(!dk.wrapped.includes(dk.plaintext), 'the wrapped form must not contain the key');
    assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
    const other = await keys.generateDataKey(ctx);
    assert.notDeepEqual(other.plaintext, dk.plaintext);
  });

  test('a wrong encryption context does not unwrap', async () => {
    const keys = await LocalKeyProvider.open(await freshDir(), { create: true });
    const dk = await keys.generateDataKey(ctx);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, recordingId: 'rec-0002' }, dk.keyRef), rejectsWith('key_access_denied'));
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, tenant: 'globex' }, dk.keyRef), rejectsWith('key_access_denied'));
  });

  test('any tampered byte of the wrapped key is refused', async () => {
    const keys = await LocalKeyProvider.open(await freshDir(), { create: true });
    const dk = await keys.generateDataKey(ctx);
    for (const at of [0, 1, 12, 13, 40, 44, 45, 60]) {
      const tampered = Buffer.from(dk.wrapped);
      tampered[at] ^= 0x01;
      await assert.rejects(keys.decryptDataKey(tampered, ctx, dk.keyRef), rejectsWith('key_access_denied'), `byte ${at}`);
    }
    await assert.rejects(keys.decryptDataKey(dk.wrapped.subarray(0, 60), ctx, dk.keyRef), rejectsWith('key_access_denied'));
    await assert.rejects(keys.decryptDataKey(dk.wrapped, ctx, 'local:v9x'), rejectsWith('key_access_denied'));
  });

  test('rotate: new keys use the new version, old ones still unwrap, rewrap moves them', async () => {
    const dir = await freshDir();
    const keys = await LocalKeyProvider.open(dir, { create: true });
    const old = await keys.generateDataKey(ctx);
    assert.equal(await keys.rotate(), 'local:v2');
    assert.equal(await mode(path.join(dir, 'master-v2.key')), 0o600);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['master-v1.key', 'master-v2.key']);
    assert.equal(keys.currentKeyRef(), 'local:v2');
    assert.equal(keys.currentKeyRef({ masterKeyId: 'ignored' }), 'local:v2');
    assert.equal((await keys.generateDataKey(ctx, { masterKeyId: 'ignored' })).keyRef, 'local:v2');
    assert.deepEqual(await keys.decryptDataKey(old.wrapped, ctx, 'local:v1'), old.plaintext);

    const moved = await keys.rewrap(old.wrapped, ctx, old.keyRef);
    assert.equal(moved.keyRef, 'local:v2');
    assert.notDeepEqual(moved.wrapped, old.wrapped);
    assert.deepEqual(await keys.decryptDataKey(moved.wrapped, ctx, moved.keyRef), old.plaintext);
    await assert.rejects(keys.decryptDataKey(moved.wrapped, ctx, 'local:v1'), rejectsWith('key_access_denied'));

    const reopened = await LocalKeyProvider.open(dir, { create: false });
    assert.deepEqual(reopened.versions(), [1, 2]);
    assert.equal(reopened.currentKeyRef(), 'local:v2');
    assert.deepEqual(await reopened.decryptDataKey(old.wrapped, ctx, old.keyRef), old.plaintext);
  });

  test('retire: rewrapped keys survive, the others fail with master_key_missing', async () => {
    const dir = await freshDir();
    const keys = await LocalKeyProvider.open(dir, { create: true });
    const a = await keys.generateDataKey(ctx);
    const b = await keys.generateDataKey({ ...ctx, recordingId: 'rec-0002' });
    await keys.rotate();
    const aMoved = await keys.rewrap(a.wrapped, ctx, a.keyRef);
    await assert.rejects(keys.retire(2), (err) => err instanceof ConflictError);
    await keys.retire(1);
    assert.deepEqual(await fs.readdir(dir), ['master-v2.key']);
    assert.deepEqual(await keys.decryptDataKey(aMoved.wrapped, ctx, aMoved.keyRef), a.plaintext);
    await assert.rejects(keys.decryptDataKey(b.wrapped, { ...ctx, recordingId: 'rec-0002' }, b.keyRef), rejectsWith('master_key_missing'));
    await assert.rejects(keys.rewrap(b.wrapped, { ...ctx, recordingId: 'rec-0002' }, b.keyRef), rejectsWith('master_key_missing'));
  });

  test('a version added by another process is used for decryption without restart', async () => {
    const dir = await freshDir();
    const server = await LocalKeyProvider.open(dir, { create: true });
    const cli = await LocalKeyProvider.open(dir, { create: false });
    assert.equal(await cli.rotate(), 'local:v2');
    const dk = await cli.generateDataKey(ctx);
    assert.deepEqual(await server.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
  });

  test('a master key file with permissions looser than 0600 is refused, naming the file', async () => {
    const dir = await freshDir();
    await LocalKeyProvider.open(dir, { create: true });
    const file = path.join(dir, 'master-v1.key');
    for (const loose of [0o640, 0o604, 0o644]) {
      await fs.chmod(file, loose);
      await assert.rejects(LocalKeyProvider.open(dir, { create: true }), (err) => {
        assert.ok(err instanceof KeyConfigError);
        assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*0600`));
        return true;
      });
    }
    await fs.chmod(file, 0o400);
    assert.equal((await LocalKeyProvider.open(dir, { create: false })).currentKeyRef(), 'local:v1');
  });

  test('a master key file of the wrong length is refused', async () => {
    const dir = await freshDir();
    await LocalKeyProvider.open(dir, { create: true });
    const file = path.join(dir, 'master-v2.key');
    await fs.writeFile(file, Buffer.alloc(31), { mode: 0o600 });
    await assert.rejects(LocalKeyProvider.open(dir, { create: false }), (err) => err instanceof KeyConfigError && err.message.includes(file));
    await fs.writeFile(file, Buffer.alloc(44).toString('base64'), { mode: 0o600 });
    await assert.rejects(LocalKeyProvider.open(dir, { create: false }), (err) => err instanceof KeyConfigError && err.message.includes(file));
  });

  test('without create, a missing directory or key is refused; a group-writable directory too', async () => {
    const dir = await freshDir();
    await assert.rejects(LocalKeyProvider.open(dir, { create: false }), KeyConfigError);
    await fs.mkdir(dir, { mode: 0o700 });
    await assert.rejects(LocalKeyProvider.open(dir, { create: false }), KeyConfigError);
    await fs.chmod(dir, 0o770);
    await assert.rejects(LocalKeyProvider.open(dir, { create: true }), KeyConfigError);
  });

  test('ping fails once the current key file is gone; close wipes the provider', async () => {
    const dir = await freshDir();
    const keys = await createKeyProvider({ kind: 'local', dir, create: true });
    await keys.ping();
    await fs.rm(path.join(dir, 'master-v1.key'));
    await assert.rejects(keys.ping(), (err) => err instanceof DependencyError && err.dependency === 'keys');
    await keys.close();
    await assert.rejects(keys.generateDataKey(ctx));
  });
});
