import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ensureAnchorKey, loadAnchors, signAnchor, type AnchorKey } from '../../src/audit/anchors.js';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { streamAuditExport, type AuditExportFilters, type AuditExportFormat } from '../../src/audit/export.js';
import { verifyExportFile } from '../../src/audit/verify.js';
import type { Anchor } from '../../src/audit/types.js';
import { auditFixture, event, type AuditFixture } from './support.js';

describe('export files verify offline', () => {
  let f: AuditFixture;
  let key: AnchorKey;
  let anchors: Anchor[];
  let total = 0;

  async function exportTo(name: string, filters: AuditExportFilters, format: AuditExportFormat): Promise<string> {
    const file = path.join(f.dir, name);
    await pipeline(streamAuditExport(f.db, filters, format), createWriteStream(file));
    return file;
  }

  async function edit(file: string, name: string, change: (text: string) => string): Promise<string> {
    const text = await readFile(file, 'utf8');
    const changed = change(text);
    assert.notEqual(changed, text, 'the edit changed nothing');
    const out = path.join(f.dir, name);
    await writeFile(out, changed);
    return out;
  }

  before(async () => {
    f = await auditFixture();
    const log = new ChainedAuditLog(f.db);
    for (let i = 1; i <= 30; i++) {
      await log.record(event(i, {
        tenant: i % 3 === 0 ? 'globex' : 'acme',
        actorSub: i === 4 ? '=HYPERLINK("http://evil")' : i === 5 ? "'quoted" : `user-${i % 4}`,
        userAgent: i === 6 ? 'line\nbreak, "quoted"' : i === 7 ? '' : i === 8 ? null : 'ua',
        action: i % 5 === 0 ? 'link.issued' : 'recording.viewed',
        details: i === 9 ? { emoji: '😀', neg: -0, big: 1e21, tiny: 5e-324, nested: { z: [], a: {} } } : { i },
      }));
    }
    await log.record(event(31, { tenant: null, action: 'auth.denied', outcome: 'denied' }));
    await log.close();
    key = await ensureAnchorKey(f.keyFile, true);
    await signAnchor(f.db, f.store, f.keyFile);
    anchors = await loadAnchors(f.store);
    total = 32;
  });
  after(() => f.close());

  for (const format of ['ndjson', 'csv'] as const) {
    test(`a full ${format} export round-trips: every hash, every link, the anchor`, async () => {
      const file = await exportTo(`full.${format}`, {}, format);
      const result = await verifyExportFile(file, anchors, key.publicKey, { complete: true });
      assert.equal(result.ok, true, result.reason);
      assert.deepEqual([result.checked, result.firstSeq, result.lastSeq, result.gaps, result.anchorsMatched], [total, 1, total, 0, 1]);
    });
  }

  test('NDJSON lines carry seq, prevHash and hash', async () => {
    const file = await exportTo('lines.ndjson', {}, 'ndjson');
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, total);
    assert.deepEqual(Object.keys(lines[0] ?? {}), ['seq', 'at', 'tenant', 'actorSub', 'actorRole', 'action', 'outcome', 'recordingId',
      'linkId', 'ip', 'userAgent', 'requestId', 'details', 'prevHash', 'hash']);
    assert.equal(lines[1]?.prevHash, lines[0]?.hash);
  });

  test('CSV neutralises formulas and keeps NULL apart from empty', async () => {
    const text = await readFile(await exportTo('cells.csv', {}, 'csv'), 'utf8');
    assert.ok(text.startsWith('seq,at,tenant,actorSub,actorRole,action,outcome,recordingId,linkId,ip,userAgent,requestId,details,prevHash,hash\r\n'));
    assert.ok(text.includes(`"'=HYPERLINK(""http://evil"")"`));
    assert.ok(text.includes(`"''quoted"`));
    assert.ok(text.includes('"line\nbreak, ""quoted"""'));
    assert.match(text, /^7,.*,"",/m, 'empty user agent is a quoted empty cell');
    assert.match(text, /^8,(?:"[^"]*",){7},"203\.0\.113\.7",,"req-8",/m, 'null link and user agent are empty unquoted cells');
  });

  test('one edited NDJSON line fails offline verification and names its seq', async () => {
    const file = await exportTo('edit.ndjson', {}, 'ndjson');
    const edited = await edit(file, 'edited.ndjson', (t) => t.replace('"actorSub":"user-2","actorRole"', '"actorSub":"user-3","actorRole"'));
    const result = await verifyExportFile(edited, anchors, key.publicKey);
    assert.equal(result.ok, false);
    assert.equal(result.firstBadSeq, 2);
    assert.match(result.reason ?? '', /event 2 was altered/);
  });

  test('one edited CSV cell fails offline verification and names its seq', async () => {
    const file = await exportTo('edit.csv', {}, 'csv');
    const edited = await edit(file, 'edited.csv', (t) => t.replace(/^(10,"[^"]*","acme","user-2","supervisor","link.issued",)"allowed"/m, '$1"denied"'));
    const result = await verifyExportFile(edited, anchors, key.publicKey);
    assert.deepEqual([result.ok, result.firstBadSeq], [false, 10], result.reason);
  });

  test('reformatting a timestamp or adding a field counts as an edit', async () => {
    const file = await exportTo('fmt.ndjson', {}, 'ndjson');
    const reformatted = await edit(file, 'fmt1.ndjson', (t) => t.replace(/("seq":3,"at":"[^"]*)\.(\d{3})Z"/, '$1.$2+00:00"'));
    const r1 = await verifyExportFile(reformatted, []);
    assert.deepEqual([r1.ok, r1.firstBadSeq], [false, 3]);
    assert.match(r1.reason ?? '', /RFC 3339/);
    const extra = await edit(file, 'fmt2.ndjson', (t) => t.replace('{"seq":4,', '{"seq":4,"note":"x",'));
    assert.equal((await verifyExportFile(extra, [])).firstBadSeq, 4);
  });

  test('a deleted line fails a --complete check; a partial check reports the gap', async () => {
    const file = await exportTo('del.ndjson', {}, 'ndjson');
    const deleted = await edit(file, 'deleted.ndjson', (t) => t.split('\n').filter((l) => !l.startsWith('{"seq":12,')).join('\n'));
    const strict = await verifyExportFile(deleted, anchors, key.publicKey, { complete: true });
    assert.deepEqual([strict.ok, strict.firstBadSeq], [false, 12]);
    const partial = await verifyExportFile(deleted, anchors, key.publicKey);
    assert.deepEqual([partial.ok, partial.gaps], [true, 1]);
  });

  test('an anchor that disagrees with the file fails it', async () => {
    const file = await exportTo('anch.ndjson', {}, 'ndjson');
    const tampered = await edit(file, 'anch2.ndjson', (t) => {
      const lines = t.trimEnd().split('\n');
      const last = JSON.parse(lines.at(-1) as string) as Record<string, unknown>;
      // A forger who recomputes the hash still cannot match the signed anchor.
      return [...lines.slice(0, -1), JSON.stringify({ ...last, hash: 'e'.repeat(64) })].join('\n');
    });
    const result = await verifyExportFile(tampered, anchors, key.publicKey);
    assert.equal(result.ok, false);
    assert.equal(result.firstBadSeq, total);
  });

  test('a tenant export holds only that tenant and still verifies line by line', async () => {
    const file = await exportTo('acme.ndjson', { tenant: 'acme' }, 'ndjson');
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { tenant: string });
    assert.equal(lines.length, 20);
    assert.ok(lines.every((l) => l.tenant === 'acme'));
    const result = await verifyExportFile(file, anchors, key.publicKey);
    assert.equal(result.ok, true, result.reason);
    assert.ok(result.gaps > 0);
    assert.equal(result.anchorsAfterEnd, 1);
  });

  test('filters: time range, recording, actor, action', async () => {
    const all = (await readFile(await exportTo('all.ndjson', {}, 'ndjson'), 'utf8')).trimEnd().split('\n')
      .map((l) => JSON.parse(l) as { seq: number; at: string; actorSub: string; action: string; recordingId: string | null });
    const read = async (filters: AuditExportFilters): Promise<number[]> => {
      const text = await readFile(await exportTo(`f-${Math.random()}.ndjson`, filters, 'ndjson'), 'utf8');
      return text.trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq);
    };
    const e10 = all[9];
    const e20 = all[19];
    assert.ok(e10 && e20);
    const expected = all.filter((e) => e.at >= e10.at && e.at < e20.at).map((e) => e.seq);
    assert.ok(expected.includes(10) && !expected.includes(20));
    assert.deepEqual(await read({ after: new Date(e10.at), before: new Date(e20.at) }), expected);
    assert.deepEqual(await read({ recordingId: e10.recordingId ?? '' }), [10]);
    assert.deepEqual(await read({ tenant: 'acme', actor: 'user-1' }), all.filter((e) => e.actorSub === 'user-1' && e.seq % 3 !== 0).map((e) => e.seq));
    assert.deepEqual(await read({ action: 'link.issued' }), [5, 10, 15, 20, 25, 30]);
    assert.deepEqual(await read({ tenant: 'nobody' }), []);
  });
});
