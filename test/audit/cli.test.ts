import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { cliAuditAnchor, cliAuditExport, cliAuditVerify, type AuditCliDeps } from '../../src/audit/cli.js';
import { runCallvault } from '../helpers/cli.js';
import { auditFixture, event, type AuditFixture } from './support.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('callvault audit verify / anchor / export', () => {
  let f: AuditFixture;
  let log: ChainedAuditLog;
  let deps: () => AuditCliDeps & { stdout: Capture; stderr: Capture };
  before(async () => {
    f = await auditFixture();
    log = new ChainedAuditLog(f.db);
    deps = () => ({ db: f.db, audit: log, store: f.store, anchorKeyFile: f.keyFile, generateAnchorKey: true, stdout: new Capture(), stderr: new Capture() });
    for (let i = 1; i <= 12; i++) await log.record(event(i));
  });
  after(async () => {
    await log.close();
    await f.close();
  });

  test('anchor signs the head and says where it went', async () => {
    const d = deps();
    assert.equal(await cliAuditAnchor(d), 0, d.stderr.text);
    assert.match(d.stdout.text, /^anchored seq 13 hash [0-9a-f]{64} at \S+ -> audit-anchors\/00000000000000000013-\S+\.json/);
  });

  test('verify without FILE checks the whole table and the anchors', async () => {
    const d = deps();
    assert.equal(await cliAuditVerify({}, d), 0, d.stderr.text);
    assert.match(d.stdout.text, /audit_events: checked 13 events \(seq 1\.\.13\), 1 anchor\(s\) matched\nOK\n$/);
  });

  test('export then verify FILE offline, with anchors copied out of the store and only the public key', async () => {
    const file = path.join(f.dir, 'cli-export.ndjson');
    const e = deps();
    assert.equal(await cliAuditExport({ output: file }, e), 0, e.stderr.text);
    const anchorsDir = path.join(f.dir, 'anchors-copy');
    await cp(path.join(f.store.root, 'audit-anchors'), anchorsDir, { recursive: true });
    const offline: AuditCliDeps & { stdout: Capture; stderr: Capture } = { stdout: new Capture(), stderr: new Capture() };
    const pub = path.join(path.dirname(f.keyFile), 'audit-anchor-ed25519.pub.pem');
    assert.equal(await cliAuditVerify({ file, anchorsDir, publicKeyFile: pub, complete: true }, offline), 0, offline.stderr.text);
    // 14: the export recorded its own audit.exported event first.
    assert.match(offline.stdout.text, /checked 14 events \(seq 1\.\.14\), 1 anchor\(s\) matched/);

    const edited = path.join(f.dir, 'cli-edited.ndjson');
    await writeFile(edited, (await readFile(file, 'utf8')).replace('"actorSub":"user-5"', '"actorSub":"user-6"'));
    const bad = { ...offline, stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditVerify({ file: edited, anchorsDir, publicKeyFile: pub }, bad), 1);
    assert.match(bad.stderr.text, /^FAILED at seq 5: event 5 was altered/);
  });

  test('csv export, verified offline; without the public key the chain is checked and exit 3 says the anchors were not', async () => {
    const file = path.join(f.dir, 'cli-export.csv');
    const e = deps();
    assert.equal(await cliAuditExport({ format: 'csv', output: file }, e), 0, e.stderr.text);
    const anchorsDir = path.join(f.dir, 'anchors-csv');
    await cp(path.join(f.store.root, 'audit-anchors'), anchorsDir, { recursive: true });
    const pub = path.join(path.dirname(f.keyFile), 'audit-anchor-ed25519.pub.pem');
    const d = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditVerify({ file, anchorsDir, publicKeyFile: pub }, d), 0, d.stderr.text);
    assert.match(d.stdout.text, /1 anchor\(s\) matched\nOK\n$/);
    const keyless = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditVerify({ file, anchorsDir }, keyless), 3, keyless.stderr.text);
    assert.match(keyless.stdout.text, /0 anchor\(s\) matched\nchain intact; anchors NOT checked \(no --public-key\)/);
    assert.doesNotMatch(keyless.stdout.text, /^OK$/m);
  });

  test('a missing file or key exits 2; export without a database exits 2', async () => {
    const missing = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditVerify({ file: path.join(f.dir, 'nope.ndjson') }, missing), 2);
    assert.match(missing.stderr.text, /audit verify could not run/);
    const noKey = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditVerify({ file: path.join(f.dir, 'cli-export.csv'), anchorsDir: f.dir, publicKeyFile: path.join(f.dir, 'absent.pem') }, noKey), 2);
    const noDb = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await cliAuditExport({}, noDb), 2);
  });

  test('callvault audit verify FILE, run from another directory, works offline and creates nothing', async () => {
    const file = path.join(f.dir, 'offline.ndjson');
    assert.equal(await cliAuditExport({ output: file }, deps()), 0);
    const anchorsDir = path.join(f.dir, 'anchors-offline');
    await cp(path.join(f.store.root, 'audit-anchors'), anchorsDir, { recursive: true });
    const pub = path.join(path.dirname(f.keyFile), 'audit-anchor-ed25519.pub.pem');
    const edited = path.join(f.dir, 'offline-edited.ndjson');
    await writeFile(edited, (await readFile(file, 'utf8')).replace('"actorSub":"user-5"', '"actorSub":"user-6"'));
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'callvault-auditor-'));
    try {
      const chainOnly = await runCallvault(['audit', 'verify', file], { cwd });
      assert.equal(chainOnly.code, 3, chainOnly.stderr);
      assert.match(chainOnly.stdout, /^file \S+offline\.ndjson: checked \d+ events \(seq 1\.\.\d+\), 0 anchor\(s\) matched\nchain intact; anchors NOT checked \(no --public-key\)/);
      assert.doesNotMatch(chainOnly.stdout, /^OK$/m);

      const full = await runCallvault(['audit', 'verify', file, '--anchors', anchorsDir, '--public-key', pub, '--complete'], { cwd });
      assert.equal(full.code, 0, full.stderr);
      assert.match(full.stdout, /1 anchor\(s\) matched\nOK\n$/);

      const tampered = await runCallvault(['audit', 'verify', edited, '--anchors', anchorsDir, '--public-key', pub], { cwd });
      assert.equal(tampered.code, 1);
      assert.match(tampered.stderr, /^FAILED at seq 5: event 5 was altered/m);
      const tamperedChainOnly = await runCallvault(['audit', 'verify', edited], { cwd });
      assert.equal(tamperedChainOnly.code, 1, 'a broken chain is a failure with or without a key');

      const noAnchors = await runCallvault(['audit', 'verify', file, '--public-key', pub], { cwd });
      assert.equal(noAnchors.code, 3, noAnchors.stderr);
      assert.match(noAnchors.stdout, /anchors NOT checked \(no --anchors DIR\)/);
      assert.deepEqual(await readdir(cwd), [], 'no data directory, database or key was created');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('a tampered table exits 1 naming the seq', async () => {
    const c = new pg.Client({ connectionString: f.tdb.superuserUrl });
    await c.connect();
    try {
      await c.query('SET session_replication_role = replica');
      await c.query(`UPDATE audit_events SET details = '{"n": 0}' WHERE seq = 9`);
    } finally {
      await c.end();
    }
    const d = deps();
    assert.equal(await cliAuditVerify({}, d), 1);
    assert.match(d.stderr.text, /^FAILED at seq 9: event 9 was altered/);
  });
});
