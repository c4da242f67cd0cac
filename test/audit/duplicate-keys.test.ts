import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { streamAuditExport, type AuditExportFormat } from '../../src/audit/export.js';
import { verifyExportFile } from '../../src/audit/verify.js';
import { duplicateJsonKey } from '../../src/lib/json-keys.js';
import { auditFixture, event, type AuditFixture } from './support.js';

/**
 * JSON.parse keeps the last of two equal keys, so an export line can carry a forged value that a
 * reader sees first while the hash still checks out against the real one after it. Verification
 * refuses any line (or CSV details cell) with a key twice in one object.
 */
describe('audit verify refuses duplicate JSON keys', () => {
  let f: AuditFixture;
  const files: Partial<Record<AuditExportFormat, string>> = {};

  before(async () => {
    f = await auditFixture();
    const log = new ChainedAuditLog(f.db);
    for (let i = 1; i <= 4; i++) await log.record(event(i));
    await log.close();
    for (const format of ['ndjson', 'csv'] as const) {
      const file = path.join(f.dir, `export.${format}`);
      await pipeline(streamAuditExport(f.db, {}, format), createWriteStream(file));
      files[format] = file;
    }
  });
  after(() => f.close());

  async function verifyEdited(format: AuditExportFormat, from: string, to: string): Promise<Awaited<ReturnType<typeof verifyExportFile>>> {
    const text = await readFile(files[format] ?? '', 'utf8');
    assert.ok(text.includes(from), `the export contains ${from}`);
    const edited = path.join(f.dir, `edited-${Math.random().toString(36).slice(2)}.${format}`);
    await writeFile(edited, text.replace(from, to));
    return verifyExportFile(edited, []);
  }

  test('the untouched exports verify', async () => {
    for (const file of Object.values(files)) assert.equal((await verifyExportFile(file, [])).ok, true);
  });

  test('a forged top-level field placed before the real one', async () => {
    const result = await verifyEdited('ndjson', '"actorSub":"user-2",', '"actorSub":"someone-else","actorSub":"user-2",');
    assert.deepEqual([result.ok, result.firstBadSeq], [false, 2], result.reason);
    assert.match(result.reason ?? '', /line 2: key "actorSub" appears twice/);
  });

  test('a duplicate inside details, also when spelled with an escape', async () => {
    const plain = await verifyEdited('ndjson', '"details":{"n":3,', '"details":{"n":99,"n":3,');
    assert.deepEqual([plain.ok, plain.firstBadSeq], [false, 3], plain.reason);
    const escaped = await verifyEdited('ndjson', '"details":{"n":3,', '"details":{"\\u006e":99,"n":3,');
    assert.deepEqual([escaped.ok, escaped.firstBadSeq], [false, 3], escaped.reason);
  });

  test('a duplicate inside a CSV details cell', async () => {
    const result = await verifyEdited('csv', '"{""n"":4,', '"{""n"":99,""n"":4,');
    assert.deepEqual([result.ok, result.firstBadSeq], [false, 4], result.reason);
    assert.match(result.reason ?? '', /key "n" appears twice in details/);
  });

  test('the scanner: equal keys in different objects, keys inside strings and arrays are fine', () => {
    assert.equal(duplicateJsonKey('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"\\"a\\":1,\\"a\\":2"}'), null);
    assert.equal(duplicateJsonKey('{"a":[1,{"b":1}],"a":2}'), 'a');
    assert.equal(duplicateJsonKey('[{"x":1,"y":{"z":1,"z":2}}]'), 'z');
    assert.equal(duplicateJsonKey('{"\\\\":1,"\\u005c":2}'), '\\');
  });
});
