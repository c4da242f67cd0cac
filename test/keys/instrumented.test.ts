import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InstrumentedKeyProvider, KeyAccessError, LocalKeyProvider, type KeyOperation } from '../../src/keys/index.js';

const ctx = { tenant: 'acme', recordingId: 'rec-0001' };
let dir: string;
let inner: LocalKeyProvider;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'callvault-instrumented-'));
  inner = await LocalKeyProvider.open(path.join(dir, 'keys'), { create: true });
});
after(async () => {
  await inner.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('InstrumentedKeyProvider', () => {
  test('reports each key operation with its outcome and passes results through', async () => {
    const seen: string[] = [];
    const keys = new InstrumentedKeyProvider(inner, (op, outcome) => seen.push(`${op}:${outcome}`));
    assert.equal(keys.kind, 'local');
    assert.equal(keys.currentKeyRef(), inner.currentKeyRef());
    const dk = await keys.generateDataKey(ctx);
    assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, tenant: 'globex' }, dk.keyRef), KeyAccessError);
    const moved = await keys.rewrap(dk.wrapped, ctx, dk.keyRef);
    assert.equal(moved.keyRef, dk.keyRef);
    await keys.ping();
    assert.deepEqual(seen, ['generate:ok', 'decrypt:ok', 'decrypt:error', 'rewrap:ok']);
  });

  test('a throwing hook does not change the operation result', async () => {
    const keys = new InstrumentedKeyProvider(inner, (_op: KeyOperation) => {
      throw new Error('metrics registry broken');
    });
    const dk = await keys.generateDataKey(ctx);
    assert.equal(dk.plaintext.length, 32);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, recordingId: 'other' }, dk.keyRef), KeyAccessError);
  });
});
