import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { publicKeyPathFor } from '../../src/audit/anchors.js';
import { cliAuditExport, describe as describeEpoch } from '../../src/audit/cli.js';
import { cliVerifyFile } from '../../src/audit/log-cli.js';
import { runCallvault } from '../helpers/cli.js';
import { request } from '../helpers/http.js';
import { scratchDir } from '../helpers/scratch.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { event } from './support.js';

/**
 * From the API export alone, `callvault audit verify FILE --public-key PEM` proves a tenant's
 * log complete up to a signed checkpoint; deleting, editing, reordering or cutting lines of that
 * very export makes it fail at the first bad event.
 */

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('the API export verifies offline as evidence of its own', () => {
  let vault: TestVault;
  let token: string;
  let dir: string;
  let pub: string;
  let exported: string;
  let n = 0;

  async function save(text: string, ext = 'ndjson'): Promise<string> {
    const file = path.join(dir, `export-${++n}.${ext}`);
    await writeFile(file, text);
    return file;
  }

  async function verify(text: string, checkpoint?: string, ext?: string): Promise<{ code: number; out: string; err: string }> {
    const out = new Capture();
    const err = new Capture();
    const checkpointFile = checkpoint === undefined ? undefined : await save(checkpoint, 'checkpoint');
    const code = await cliVerifyFile({ file: await save(text, ext), publicKeyFile: pub, checkpointFile }, { stdout: out, stderr: err }, describeEpoch);
    return { code, out: out.text, err: err.text };
  }

  async function exportText(query = ''): Promise<{ text: string; link: string | undefined }> {
    const res = await request(vault, { path: `/v1/audit-events${query}`, token });
    assert.equal(res.status, 200, res.body.toString());
    return { text: res.body.toString('utf8'), link: res.headers.link as string | undefined };
  }

  before(async () => {
    vault = await startVault();
    dir = await scratchDir('callvault-log-export-');
    token = await vault.token('compliance', { tenant: 'acme', sub: 'carol' });
    for (let i = 1; i <= 40; i++) await vault.deps.audit.record(event(i, { tenant: i % 4 === 0 ? 'globex' : 'acme', recordingId: `rec-${i % 3}` }));
    pub = publicKeyPathFor(vault.config.audit.anchorKey.file);
    exported = (await exportText()).text;
  });
  after(() => vault.close());

  test('an unfiltered export ends with its checkpoint and verifies offline with the public key alone', async () => {
    const lines = exported.trimEnd().split('\n');
    // 30 acme events and the export's own audit.exported event, then the checkpoint line.
    assert.equal(lines.length, 32);
    assert.match(lines.at(-1)!, /^\{"checkpoint":"callvault\.localhost\/embedded\/tenant\/acme\\n31\\n/);
    const cwd = await scratchDir('callvault-auditor-');
    const res = await runCallvault(['audit', 'verify', await save(exported), '--public-key', pub], { cwd });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /log callvault\.localhost\/embedded\/tenant\/acme: checked 31 events \(logSeq 1\.\.31\), complete up to the checkpoint of size 31[^]*\nOK\n$/);
  });

  test('deleting, editing, reordering or truncating the real export fails naming the first bad event', async () => {
    const lines = exported.split('\n').filter(Boolean).map((l) => `${l}\n`);
    const checkpoint = lines.at(-1)!;
    const without = (k: number): string => lines.filter((_l, i) => i !== k - 1).join('');
    const cases: [string, string, RegExp][] = [
      ['delete', without(12), /^FAILED at logSeq 12: logSeq 13 follows logSeq 11: event 12 is missing/],
      ['edit', exported.replace('"actorSub":"user-9"', '"actorSub":"user-8"'), /^FAILED at logSeq 7: event 7 was altered/],
      ['reorder', [...lines.slice(0, 19), lines[20]!, lines[19]!, ...lines.slice(21)].join(''), /^FAILED at logSeq 20: /],
      ['truncate', [...lines.slice(0, 25), checkpoint].join(''), /^FAILED at logSeq 26: the export ends at logSeq 25 but its checkpoint covers 31 events/],
      ['cut', lines.slice(0, 25).join(''), /^FAILED at logSeq 26: .*without its checkpoint line/],
    ];
    for (const [what, text, reason] of cases) {
      const r = await verify(text);
      assert.equal(r.code, 1, `${what} went unnoticed`);
      assert.match(r.err, reason, what);
    }
  });

  test('a filtered export carries an inclusion proof per event and verifies against the signed tree', async () => {
    const { text } = await exportText('?recordingId=rec-1');
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { logSeq?: number; recordingPrev?: number | null; proof?: { treeSize: number } });
    const events = lines.slice(0, -1);
    assert.ok(events.length >= 10);
    assert.ok(events.every((e) => e.proof?.treeSize === 32), 'each event proven in the tree the checkpoint signs');
    // Each event about the recording links to the one before it.
    events.forEach((e, i) => assert.equal(e.recordingPrev, i === 0 ? null : events[i - 1]!.logSeq));
    const ok = await verify(text);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /each proven in the tree of size 32/);
    const edited = await verify(text.replace('"requestId":"req-7"', '"requestId":"req-x"'));
    assert.equal(edited.code, 1);
    assert.match(edited.err, /^FAILED at logSeq 6: event 6 was altered/);
  });

  test('CSV stays plain; its checkpoint is linked from a response header and checked as a separate file', async () => {
    const { text, link } = await exportText('?format=csv');
    assert.match(text, /^"?log"?,"?logSeq/);
    const size = Number(/^<\/v1\/audit-checkpoints\?size=(\d+)>; rel="checkpoint"$/.exec(link ?? '')?.[1]);
    assert.equal(size, 33);
    const log = (await vault.deps.auditLogs.find('acme'))!;
    // What GET /v1/audit-checkpoints?size=N serves: the head the export signed.
    const checkpoint = (await vault.deps.checkpoints.atSize(log.logId, size))!.checkpoint;
    const ok = await verify(text, checkpoint, 'csv');
    assert.equal(ok.code, 0, ok.err);
    const dropped = await verify(text.replace(/\r\n[^\r]*"req-5"[^\r]*\r\n/, '\r\n'), checkpoint, 'csv');
    assert.equal(dropped.code, 1);
    assert.match(dropped.err, /^FAILED at logSeq 4: logSeq 5 follows logSeq 3: event 4 is missing/);
  });

  test('callvault audit export --tenant writes the same evidence as the API', async () => {
    const file = path.join(dir, 'cli-acme.ndjson');
    const d = vault.deps;
    const stderr = new Capture();
    const code = await cliAuditExport({ output: file, tenant: 'acme' }, {
      db: d.db, audit: d.audit, auditLogs: d.auditLogs, checkpoints: d.checkpoints, anchorKeyFile: vault.config.audit.anchorKey.file, stderr,
    });
    assert.equal(code, 0, stderr.text);
    const res = await runCallvault(['audit', 'verify', file, '--public-key', pub]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /tenant\/acme: checked \d+ events \(logSeq 1\.\.\d+\), complete up to the checkpoint/);
  });

  test('callvault audit export --system writes the system log with its checkpoint', async () => {
    // An unauthenticated request is an event of no tenant.
    assert.equal((await request(vault, { path: '/v1/recordings' })).status, 401);
    const file = path.join(dir, 'cli-system.ndjson');
    const d = vault.deps;
    const stderr = new Capture();
    const code = await cliAuditExport({ output: file, system: true }, {
      db: d.db, audit: d.audit, auditLogs: d.auditLogs, checkpoints: d.checkpoints, anchorKeyFile: vault.config.audit.anchorKey.file, stderr,
    });
    assert.equal(code, 0, stderr.text);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.ok(lines.some((l) => l.includes('"action":"auth.denied"')), 'the denial is in the system log');
    assert.ok(lines.every((l) => !l.includes('"tenant":"acme"')), 'no tenant\'s event is');
    const res = await runCallvault(['audit', 'verify', file, '--public-key', pub]);
    // The event that closed the single chain has no tenant either; it is checked against the anchors (not given here).
    assert.equal(res.code, 3, res.stderr + res.stdout);
    assert.match(res.stdout, /log \S+\/system: checked \d+ events \(logSeq 1\.\.\d+\), complete up to the checkpoint/);
    assert.match(res.stdout, /events of the single-chain epoch: anchors NOT checked/);
  });
});
