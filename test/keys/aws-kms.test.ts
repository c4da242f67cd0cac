import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { KMSClient } from '@aws-sdk/client-kms';
import { DependencyError } from '../../src/errors.js';
import { createKeyProvider, KeyAccessError } from '../../src/keys/index.js';
import { AwsKmsKeyProvider, createKmsClient, type KmsClientOptions } from '../../src/keys/aws-kms.js';
import { startKmsDouble, type KmsDouble } from '../helpers/kms-double.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const ctx = { tenant: 'acme', recordingId: 'rec-0001' };

let kms: KmsDouble;
let keyA: string;
let keyB: string;
const clients: KMSClient[] = [];

function provider(defaultKeyId: string, opts: Partial<KmsClientOptions> = {}): AwsKmsKeyProvider {
  const client = createKmsClient({
    region: 'us-east-1', endpoint: kms.endpoint, credentials,
    maxAttempts: 1, connectTimeoutMs: 1000, requestTimeoutMs: 2000, ...opts,
  });
  clients.push(client);
  return new AwsKmsKeyProvider({ client, defaultKeyId });
}

/** The KMS error the SDK surfaced, as kept in the cause. */
function refusedBecause(kmsError: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof KeyAccessError, `expected KeyAccessError, got ${String(err)}`);
    assert.equal(err.code, 'key_access_denied');
    assert.equal(err.status, 500);
    assert.equal((err.cause as Error).name, kmsError);
    return true;
  };
}

function unavailable(err: unknown): boolean {
  assert.ok(err instanceof DependencyError, `expected DependencyError, got ${String(err)}`);
  assert.equal(err.dependency, 'keys');
  assert.equal(err.status, 503);
  return true;
}

before(async () => {
  kms = await startKmsDouble();
  keyA = kms.createKey();
  keyB = kms.createKey();
});
after(async () => {
  for (const client of clients) client.destroy();
  await kms.stop();
});

describe('AwsKmsKeyProvider against the KMS double', () => {
  test('round trip: GenerateDataKey then Decrypt, keyRef is the key ARN', async () => {
    const keys = provider(keyA);
    assert.equal(keys.kind, 'aws-kms');
    assert.equal(keys.currentKeyRef(), keyA);
    const before = kms.calls.GenerateDataKey ?? 0;
    const dk = await keys.generateDataKey(ctx);
    assert.equal(kms.calls.GenerateDataKey, before + 1);
    assert.equal(dk.keyRef, keyA);
    assert.match(dk.keyRef, /^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
    assert.equal(dk.plaintext.length, 32);
    assert.ok(!dk.wrapped.includes(dk.plaintext));
    assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
    await keys.ping();
  });

  test('Decrypt with a wrong encryption context is refused', async () => {
    const keys = provider(keyA);
    const dk = await keys.generateDataKey(ctx);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, recordingId: 'rec-0002' }, dk.keyRef), refusedBecause('InvalidCiphertextException'));
    await assert.rejects(keys.decryptDataKey(dk.wrapped, { ...ctx, tenant: 'globex' }, dk.keyRef), refusedBecause('InvalidCiphertextException'));
  });

  test('a tampered blob is refused', async () => {
    const keys = provider(keyA);
    const dk = await keys.generateDataKey(ctx);
    const tampered = Buffer.from(dk.wrapped);
    tampered[tampered.length - 1] ^= 0x01;
    await assert.rejects(keys.decryptDataKey(tampered, ctx, dk.keyRef), refusedBecause('InvalidCiphertextException'));
  });

  test('Decrypt naming another key is refused', async () => {
    const keys = provider(keyA);
    const dk = await keys.generateDataKey(ctx);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, ctx, keyB), refusedBecause('IncorrectKeyException'));
  });

  test('an unknown key is refused', async () => {
    const unknown = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
    const keys = provider(keyA);
    await assert.rejects(keys.generateDataKey(ctx, { masterKeyId: unknown }), refusedBecause('NotFoundException'));
    const dk = await keys.generateDataKey(ctx);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, ctx, unknown), refusedBecause('NotFoundException'));
    await assert.rejects(provider(unknown).ping(), unavailable);
  });

  test('a disabled key is refused, and readiness fails when it is the default', async () => {
    const arn = kms.createKey();
    const keys = provider(arn);
    const dk = await keys.generateDataKey(ctx);
    kms.disableKey(arn);
    try {
      await assert.rejects(keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), refusedBecause('DisabledException'));
      await assert.rejects(keys.generateDataKey(ctx), refusedBecause('DisabledException'));
      await assert.rejects(keys.ping(), unavailable);
    } finally {
      kms.enableKey(arn);
    }
    assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
  });

  test('rewrap uses ReEncrypt to a second key; the result decrypts under the new ARN only', async () => {
    const keys = provider(keyA);
    const dk = await keys.generateDataKey(ctx);
    const decryptsBefore = kms.calls.Decrypt ?? 0;
    const moved = await keys.rewrap(dk.wrapped, ctx, dk.keyRef, { masterKeyId: keyB });
    assert.equal(kms.calls.Decrypt ?? 0, decryptsBefore, 'rewrap must not unwrap through Decrypt');
    assert.equal(moved.keyRef, keyB);
    assert.deepEqual(await keys.decryptDataKey(moved.wrapped, ctx, keyB), dk.plaintext);
    await assert.rejects(keys.decryptDataKey(moved.wrapped, ctx, keyA), refusedBecause('IncorrectKeyException'));

    const toDefault = await provider(keyB).rewrap(dk.wrapped, ctx, keyA);
    assert.equal(toDefault.keyRef, keyB);
    await assert.rejects(keys.rewrap(dk.wrapped, { ...ctx, tenant: 'globex' }, keyA), refusedBecause('InvalidCiphertextException'));
  });

  test("tenant BYOK: masterKeyId selects the tenant's own key", async () => {
    const tenantKey = kms.createKey();
    const keys = provider(keyA);
    assert.equal(keys.currentKeyRef({ masterKeyId: tenantKey }), tenantKey);
    const dk = await keys.generateDataKey(ctx, { masterKeyId: tenantKey });
    assert.equal(dk.keyRef, tenantKey);
    assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, tenantKey), dk.plaintext);
    await assert.rejects(keys.decryptDataKey(dk.wrapped, ctx, keyA), refusedBecause('IncorrectKeyException'));
  });

  test('a hung key service fails as DependencyError within the request timeout', { timeout: 5000 }, async () => {
    const keys = provider(keyA, { requestTimeoutMs: 300, maxAttempts: 1 });
    kms.failNext(1, 'hang');
    const started = performance.now();
    await assert.rejects(keys.generateDataKey(ctx), unavailable);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1000, `took ${Math.round(elapsed)} ms`);
  });

  test('an internal error is retried when attempts remain, and surfaces when they do not', async () => {
    const before = kms.calls.GenerateDataKey ?? 0;
    kms.failNext(1, 'internal');
    const dk = await provider(keyA, { maxAttempts: 3 }).generateDataKey(ctx);
    assert.equal(dk.keyRef, keyA);
    assert.equal(kms.calls.GenerateDataKey, before + 2);

    kms.failNext(1, 'internal');
    await assert.rejects(provider(keyA).generateDataKey(ctx), unavailable);
    kms.failNext(1, 'throttle');
    await assert.rejects(provider(keyA).decryptDataKey(dk.wrapped, ctx, dk.keyRef), unavailable);
  });

  test('an unreachable key service is DependencyError', async () => {
    const gone = await startKmsDouble();
    const arn = gone.createKey();
    await gone.stop();
    const client = createKmsClient({
      region: 'us-east-1', endpoint: gone.endpoint, credentials, maxAttempts: 1, connectTimeoutMs: 500, requestTimeoutMs: 500,
    });
    clients.push(client);
    const keys = new AwsKmsKeyProvider({ client, defaultKeyId: arn });
    await assert.rejects(keys.generateDataKey(ctx), unavailable);
    await assert.rejects(keys.ping(), unavailable);
  });

  test('createKeyProvider builds a working aws-kms provider', async () => {
    const keys = await createKeyProvider({
      kind: 'aws-kms', keyId: keyA, region: 'us-east-1', endpoint: kms.endpoint, credentials,
      maxAttempts: 2, connectTimeoutMs: 1000, requestTimeoutMs: 2000,
    });
    try {
      const dk = await keys.generateDataKey(ctx);
      assert.deepEqual(await keys.decryptDataKey(dk.wrapped, ctx, dk.keyRef), dk.plaintext);
    } finally {
      await keys.close();
    }
  });
});

describe('KMS double protocol', () => {
  test('requests without an Authorization header are refused', async () => {
    const res = await fetch(kms.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.DescribeKey' },
      body: JSON.stringify({ KeyId: keyA }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
  });

  test('latency is applied to answers', async () => {
    kms.setLatency(150);
    try {
      const started = performance.now();
      await provider(keyA).ping();
      assert.ok(performance.now() - started >= 140);
    } finally {
      kms.setLatency(0);
    }
  });
});
