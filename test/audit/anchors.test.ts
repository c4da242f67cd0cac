import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  anchorSignatureProblem, ensureAnchorKey, loadAnchors, loadPublicKey, parseAnchor, publicKeyPathFor, signAnchor, startAnchorSchedule,
} from '../../src/audit/anchors.js';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { verifyTable } from '../../src/audit/verify.js';
import type { ObjectStore, PutOptions } from '../../src/storage/types.js';
import { waitFor } from '../helpers/wait.js';
import { auditFixture, event, sql, type AuditFixture } from './support.js';

describe('anchor key', () => {
  let f: AuditFixture;
  before(async () => { f = await auditFixture(); });
  after(() => f.close());

  test('is generated once as a 0600 PKCS#8 Ed25519 PEM with a public sibling', async () => {
    const first = await ensureAnchorKey(f.keyFile, true);
    assert.equal((await stat(f.keyFile)).mode & 0o777, 0o600);
    assert.match(await readFile(f.keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(first.publicKeyFile, path.join(path.dirname(f.keyFile), 'audit-anchor-ed25519.pub.pem'));
    assert.match(await readFile(first.publicKeyFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const again = await ensureAnchorKey(f.keyFile, true);
    assert.equal(again.keyId, first.keyId);
    assert.equal((await loadPublicKey(first.publicKeyFile)).equals(first.publicKey), true);
    assert.equal((await loadPublicKey(f.keyFile)).equals(first.publicKey), true);
  });

  test('is never generated outside embedded mode', async () => {
    const missing = path.join(f.dir, 'nope', 'anchor.pem');
    await assert.rejects(ensureAnchorKey(missing, false), /anchor\.pem does not exist \(AUDIT_ANCHOR_KEY_FILE\)/);
  });

  test('must be Ed25519', async () => {
    const rsa = path.join(f.dir, 'rsa.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(rsa, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await assert.rejects(ensureAnchorKey(rsa, false), /not an Ed25519 key/);
  });

  test('public key path', () => {
    assert.equal(publicKeyPathFor('/k/a.pem'), '/k/a.pub.pem');
    assert.equal(publicKeyPathFor('/k/a.key'), '/k/a.key.pub.pem');
  });
});

describe('anchors', () => {
  let f: AuditFixture;
  before(async () => { f = await auditFixture(); });
  after(() => f.close());

  test('sign the head after an audit.anchored event and land under audit-anchors/ with Object Lock retention', async () => {
    const log = new ChainedAuditLog(f.db);
    for (let i = 0; i < 5; i++) await log.record(event(i));
    await log.close();
    const puts: { key: string; opts?: PutOptions }[] = [];
    const spy: ObjectStore = Object.assign(Object.create(f.store) as ObjectStore, {
      put: (key: string, body: Readable | Buffer, opts?: PutOptions) => { puts.push({ key, opts }); return f.store.put(key, body, opts); },
    });
    const anchor = await signAnchor(f.db, spy, f.keyFile, { generateKey: true });
    assert.ok(anchor);
    assert.equal(anchor.seq, 6);
    assert.match(anchor.objectKey, /^audit-anchors\/00000000000000000006-\d{8}T\d{6}\.\d{3}Z\.json$/);
    const years = ((puts[0]?.opts?.retainUntil?.getTime() ?? 0) - Date.parse(anchor.at)) / (365.25 * 86_400_000);
    assert.ok(years > 6.9 && years < 7.1, `retention ${years} years`);
    const [row] = await sql<{ action: string; hash: string; details: { keyId: string } }>(f.tdb.superuserUrl, 'SELECT action, hash, details FROM audit_events WHERE seq = 6');
    assert.equal(row?.action, 'audit.anchored');
    assert.equal(row?.hash, anchor.hash);
    assert.equal(row?.details.keyId, anchor.keyId);
    const [loaded] = await loadAnchors(f.store);
    assert.ok(loaded);
    const key = await ensureAnchorKey(f.keyFile, false);
    assert.equal(anchorSignatureProblem(loaded, [key.publicKey]), null);
    assert.match(anchorSignatureProblem({ ...loaded, seq: 5 }, [key.publicKey]) ?? '', /signature is invalid/);
    assert.match(anchorSignatureProblem({ ...loaded, at: '2000-01-01T00:00:00.000Z' }, [key.publicKey]) ?? '', /signature is invalid/);
    const result = await verifyTable(f.db, f.store, key.publicKeyFile);
    assert.deepEqual([result.ok, result.checked, result.anchorsMatched], [true, 6, 1]);
  });

  test('without the public key, anchors cannot be trusted and verification fails', async () => {
    const result = await verifyTable(f.db, f.store, undefined);
    assert.equal(result.ok, false);
    assert.match(result.reason ?? '', /no anchor public key/);
  });

  test('a scheduled run skips when only anchoring happened since; manual runs always sign', async () => {
    assert.equal(await signAnchor(f.db, f.store, f.keyFile, { trigger: 'scheduled' }), null);
    const manual = await signAnchor(f.db, f.store, f.keyFile, { trigger: 'manual' });
    assert.equal(manual?.seq, 7);
    const log = new ChainedAuditLog(f.db);
    await log.record(event(9));
    await log.close();
    const scheduled = await signAnchor(f.db, f.store, f.keyFile, { trigger: 'scheduled' });
    assert.equal(scheduled?.seq, 9);
  });

  test('an anchoring whose upload failed is anchored again by the next scheduled run', async () => {
    const failing: ObjectStore = Object.assign(Object.create(f.store) as ObjectStore, {
      put: () => Promise.reject(new Error('bucket unreachable')),
    });
    await assert.rejects(signAnchor(f.db, failing, f.keyFile, { trigger: 'manual' }), /bucket unreachable/);
    const retried = await signAnchor(f.db, f.store, f.keyFile, { trigger: 'scheduled' });
    assert.equal(retried?.seq, 11);
    assert.equal(await signAnchor(f.db, f.store, f.keyFile, { trigger: 'scheduled' }), null);
  });

  test('the schedule anchors periodically and stops', async () => {
    const log = new ChainedAuditLog(f.db);
    await log.record(event(10));
    await log.close();
    // Each run reads the store: a put when it anchors, a list when it checks the head is anchored.
    const calls: string[] = [];
    const watched: ObjectStore = Object.assign(Object.create(f.store) as ObjectStore, {
      put: (key: string, body: Readable | Buffer, opts?: PutOptions) => { calls.push('put'); return f.store.put(key, body, opts); },
      list: (prefix: string) => { calls.push('list'); return f.store.list(prefix); },
    });
    const errors: unknown[] = [];
    const schedule = startAnchorSchedule(f.db, watched, f.keyFile, 50, (e) => errors.push(e));
    try {
      await waitFor('two scheduled runs after an anchoring', async () => {
        const put = calls.indexOf('put');
        return put >= 0 && calls.slice(put + 1).filter((c) => c === 'list').length >= 2;
      });
    } finally {
      await schedule.stop();
    }
    const runs = calls.length;
    // Absence cannot be polled for: three intervals pass with no run.
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(calls.length, runs, 'no run after stop()');
    const anchors = await loadAnchors(f.store);
    assert.deepEqual(errors, []);
    assert.equal(calls.filter((c) => c === 'put').length, 1, 'one new anchor: later runs had nothing new');
    assert.equal(anchors.at(-1)?.seq, 13);
    const key = await ensureAnchorKey(f.keyFile, false);
    const result = await verifyTable(f.db, f.store, key.publicKeyFile);
    assert.deepEqual([result.ok, result.anchorsMatched], [true, anchors.length]);
  });

  test('malformed anchor documents are refused', () => {
    const good = { seq: 1, hash: 'a'.repeat(64), at: '2026-01-01T00:00:00.000Z', signature: 'AAAA', keyId: 'b'.repeat(64) };
    assert.equal(parseAnchor(JSON.stringify(good), 'x').seq, 1);
    for (const bad of [{ ...good, seq: 0 }, { ...good, seq: '1' }, { ...good, hash: 'A'.repeat(64) }, { ...good, at: '2026-01-01' }, { ...good, signature: 1 }]) {
      assert.throws(() => parseAnchor(JSON.stringify(bad), 'x'), /malformed/);
    }
    assert.throws(() => parseAnchor('{', 'x'), /not JSON/);
  });

  test('an unreadable anchor in the store fails table verification', async () => {
    await f.store.put('audit-anchors/99999999999999999999-junk.json', Buffer.from('not json'));
    const key = await ensureAnchorKey(f.keyFile, false);
    const result = await verifyTable(f.db, f.store, key.publicKeyFile);
    assert.equal(result.ok, false);
    assert.match(result.reason ?? '', /junk\.json is not JSON/);
  });
});
