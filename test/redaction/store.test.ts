import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { auditActor } from '../../src/audit/actor.js';
import type { AuditEventInput } from '../../src/audit/types.js';
import type { Trx } from '../../src/db/knex.js';
import { redact, type RedactionDeps } from '../../src/redaction/service.js';
import type { RedactionOrder } from '../../src/redaction/types.js';
import type { ByteRange, ObjectStore, PutOptions } from '../../src/storage/types.js';
import { objectKeys } from '../faults/support.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { current, json, pci, upload, waitFor } from './support.js';

/**
 * The vault's own store as if it were under S3 Object Lock, which s3rver lacks: it records each
 * object's legal hold and, as S3 does, refuses to delete a held object. It keeps every read it
 * opened, to tell whether each was ended, and can act between a put and what follows it.
 */
class LockedStore implements ObjectStore {
  readonly driver: ObjectStore['driver'];
  readonly objectLock = true;
  readonly holds = new Map<string, boolean>();
  readonly reads: Readable[] = [];
  afterPut: (() => Promise<void>) | null = null;

  constructor(private readonly inner: ObjectStore) { this.driver = inner.driver; }

  async put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<{ sizeBytes: number }> {
    const stored = await this.inner.put(key, body, opts);
    await this.afterPut?.();
    return stored;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const read = await this.inner.get(key, range);
    this.reads.push(read);
    return read;
  }

  head(key: string): ReturnType<ObjectStore['head']> { return this.inner.head(key); }
  list(prefix: string): ReturnType<ObjectStore['list']> { return this.inner.list(prefix); }
  ping(): Promise<void> { return this.inner.ping(); }

  async delete(key: string): Promise<void> {
    if (this.holds.get(key)) throw new Error(`${key} is under a legal hold`);
    await this.inner.delete(key);
  }

  async setLegalHold(key: string, on: boolean): Promise<void> { this.holds.set(key, on); }
}

const pii: RedactionOrder = { ...pci(1000, 2000), category: 'pii' };
const by = { actor: auditActor('cli:compliance'), requestedBy: 'cli:compliance', approval: null };

describe('redaction and the object store', () => {
  let vault: TestVault;
  let store: LockedStore;
  let deps: RedactionDeps;
  const settings = (): { maxBytes: number } => ({ maxBytes: vault.config.recordings.maxBytes });
  const hold = async (id: string, on: boolean): Promise<void> => {
    const res = await json(vault, on ? 'PUT' : 'DELETE', `/v1/recordings/${id}/legal-hold`, await vault.token('compliance'), on ? { reason: 'litigation' } : undefined);
    assert.equal(res.status, on ? 200 : 204, res.body.toString());
  };

  before(async () => {
    vault = await startVault();
    store = new LockedStore(vault.deps.store);
    deps = { ...vault.deps, store };
    // Only a pii redaction that keeps the original may touch a held recording.
    assert.equal((await json(vault, 'PUT', '/v1/redaction-settings', await vault.token('admin'), { keepPiiOriginal: true })).status, 200);
  });
  after(() => vault.close());

  test('a hold set while the version is staged reaches the new object', async () => {
    const r = await upload(vault, 'hold-during');
    store.afterPut = () => hold(r.id, true);
    try {
      await redact(deps, settings(), 'acme', r.id, pii, by);
    } finally {
      store.afterPut = null;
    }
    const after = await current(vault, r.id);
    assert.deepEqual([after.version, after.legalHold], [2, true]);
    assert.equal(store.holds.get(after.objectKey ?? ''), true, 'the current object carries the hold of its row');
  });

  test('a hold cleared while the version is staged does not hold the new object', async () => {
    const r = await upload(vault, 'release-during');
    await hold(r.id, true);
    store.afterPut = () => hold(r.id, false);
    try {
      await redact(deps, settings(), 'acme', r.id, pii, by);
    } finally {
      store.afterPut = null;
    }
    const after = await current(vault, r.id);
    assert.deepEqual([after.version, after.legalHold], [2, false]);
    assert.notEqual(store.holds.get(after.objectKey ?? ''), true, 'no hold outlives the one on its row');
  });

  test('a commit that fails after holding the new object leaves no object behind', async () => {
    const r = await upload(vault, 'hold-failed-commit');
    await hold(r.id, true);
    const stored = await objectKeys(store);
    const failing: RedactionDeps = {
      ...deps,
      audit: {
        record: (e: AuditEventInput, trx?: Trx) => e.action === 'recording.redacted' ? Promise.reject(new Error('audit log unavailable')) : vault.deps.audit.record(e, trx),
        recordDenied: (e, source) => vault.deps.audit.recordDenied(e, source),
      },
    };
    await assert.rejects(redact(failing, settings(), 'acme', r.id, pii, by), /audit log unavailable/);
    assert.deepEqual([(await current(vault, r.id)).version, await objectKeys(store)], [1, stored], 'nothing changed, nothing was left behind');
  });

  test('a staging that fails before it reads leaves no read of the recording open', async () => {
    const r = await upload(vault, 'leak-flac', { body: await readFile(fixturePath('call-pcm16-8k-stereo.flac')) });
    store.reads.length = 0;
    const failing: RedactionDeps = { ...deps, tenants: { get: () => Promise.reject(new Error('tenant lookup failed')) } };
    await assert.rejects(redact(failing, settings(), 'acme', r.id, pci(1000, 2000), by), /tenant lookup failed/);
    assert.ok(store.reads.length > 0);
    await waitFor('every read of the recording to end', async () => store.reads.every((s) => s.destroyed), 3_000);
  });
});
