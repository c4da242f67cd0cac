import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { canonicalLogEvent, hashLogEvent, isOwnJcs, jcs, logEventLeaf } from '../../src/audit/canonical.js';
import { canonicalDetails } from '../../src/audit/details-bytes.js';
import { LogLineReader } from '../../src/audit/log-bytes.js';
import { logNdjsonLine, parseExportLine, proofJson, scanLogLine } from '../../src/audit/log-lines.js';
import { verifyLogExport } from '../../src/audit/log-verify.js';
import type { LogEvent } from '../../src/audit/types.js';
import { BENCH_NAMESPACE, logEvents, writeLogExport, type LogSpec } from '../../bench/lib/log-export.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * The byte reading of export lines (src/audit/log-bytes.ts) must read exactly the lines the text
 * reading would read, to the same values and the same canonical bytes; the verifier over it must
 * fail where it failed, naming the same event.
 */

const ACME: LogSpec = { origin: `${BENCH_NAMESPACE}/tenant/acme`, tenant: 'acme' };
const base = [...logEvents(ACME, 6)];
const sealed = (e: Omit<LogEvent, 'hash'>): LogEvent => ({ ...e, hash: hashLogEvent(e) });
const text = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });

describe('the byte reading of export lines', () => {
  test('reads every line the exporter writes without a proof, to its values, canonical encoding and leaf', () => {
    const reader = new LogLineReader();
    fc.assert(fc.property(text, fc.string({ unit: 'grapheme' }), fc.dictionary(fc.string(), fc.jsonValue()), text, (ua, actor, details, ip) => {
      const e = sealed({ ...base[4]!, userAgent: ua, actorSub: actor, ip, details: JSON.parse(JSON.stringify(details)) as Record<string, unknown> });
      const line = Buffer.from(logNdjsonLine(e).slice(0, -1));
      const read = reader.read(line, 0, line.length);
      // Escaped member text is left to the text reading, as scanLogLine leaves it to the strict one.
      assert.equal(read === null, scanLogLine(line.toString()) === null, line.toString());
      if (read === null) return;
      assert.deepEqual(reader.canonical(line), Buffer.from(canonicalLogEvent(e)));
      assert.deepEqual({ ...read }, { kind: 'sealed', log: e.log, logSeq: e.logSeq, prevHash: e.prevHash, hash: e.hash, leaf: logEventLeaf(e).toString('latin1') });
    }));
  });

  test('takes a changed line exactly when the text reading takes it without a proof, to the same event and encoding', () => {
    const reader = new LogLineReader();
    const lines = base.map((e) => logNdjsonLine(e).slice(0, -1));
    const alphabet = ['"', '\\', ',', ':', '{', '}', '0', '1', '9', 'a', 'F', ' ', 'null', '\u0001', '\u007f', 'é', '\u2028', '😀', '{}', '"x"'];
    fc.assert(fc.property(fc.integer({ min: 0, max: lines.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 3 }), fc.constantFrom(...alphabet), (which, at, cut, insert) => {
      const line = lines[which]!;
      const i = at % line.length;
      const changed = line.slice(0, i) + insert + line.slice(i + cut);
      const canonical = reader.canonical(Buffer.from(changed));
      const scanned = scanLogLine(changed);
      assert.equal(canonical !== null, scanned !== null && scanned.proof === null, changed);
      if (canonical === null) return;
      const strict = parseExportLine(changed, 1);
      assert.ok(strict.kind === 'log');
      assert.equal(logNdjsonLine(strict.event), `${changed}\n`);
      assert.deepEqual(canonical, Buffer.from(canonicalLogEvent(strict.event)));
    }), { numRuns: 4000 });
  });

  test('reads a line longer than its buffer, which grows to hold it', () => {
    const reader = new LogLineReader();
    const e = sealed({ ...base[1]!, details: { note: 'x'.repeat(200_000) } });
    const line = Buffer.from(logNdjsonLine(e).slice(0, -1));
    assert.equal(reader.read(line, 0, line.length)?.leaf, logEventLeaf(e).toString('latin1'));
    assert.equal(reader.read(line, 0, line.length)?.hash, e.hash);
  });

  test('takes details as canonical exactly when parsing and encoding them again gives back their text', () => {
    // A number out of range parses to Infinity, which jcs cannot encode: not canonical, in the text reading too.
    const outcome = (read: () => boolean): string => {
      try {
        return String(read());
      } catch (err) {
        return String(err);
      }
    };
    const reference = (t: string): boolean => {
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch {
        return false;
      }
      return !!v && typeof v === 'object' && !Array.isArray(v) && isOwnJcs(v, t);
    };
    const flat = fc.dictionary(fc.string(), fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer({ min: -1e15, max: 1e15 }), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })));
    const texts = fc.oneof(flat.map(jcs), fc.dictionary(fc.string(), fc.jsonValue()).map(jcs), fc.json(), flat.map((d) => JSON.stringify(d)));
    const alphabet = ['"', '\\', ',', ':', '{', '}', '0', '-', '1', '.', 'e', 'a', 'true', 'null', ' ', '\u0001', 'é'];
    const edges = [
      '{}', '{ }', '{"a":1,"a":1}', '{"a":1,"b":2}', '{"b":1,"a":2}', '{"a":-0}', '{"a":0}', '{"a":01}', '{"a":-1}', '{"a":1.0}', '{"a":1e2}',
      '{"a":123456789012345}', '{"a":1234567890123456}', '{"a":12345678901234567}', '{"a":-99999999999999999}', '{"a":1e400}',
      '{"\uE000":1,"😀":2}', '{"😀":1,"\uE000":2}', '{"é":1,"f":2}', '{"a":"x\\"y"}', '{"a":"\u00e9"}', '{"a":{}}', '{"a":[1]}',
      '{"a":true,"b":false,"c":null}', '{"a":tru}', '{"a":nul}', '{"a":"b"', '{"a":1,}', '{"":1,"a":2}', '{"a":1,"":2}', '{"ab":1,"a":2}', '{"a":1,"ab":2}', '{"a":1,"a ":2}', '{"a ":1,"a":2}', '{"a!":1,"a":2}',
    ];
    for (const t of edges) {
      const bytes = Buffer.from(t);
      assert.equal(outcome(() => canonicalDetails(bytes, 0, bytes.length)), outcome(() => reference(t)), t);
    }
    fc.assert(fc.property(texts, fc.nat(), fc.integer({ min: 0, max: 2 }), fc.option(fc.constantFrom(...alphabet)), (t, at, cut, insert) => {
      const i = at % (t.length + 1);
      const changed = insert === null ? t : t.slice(0, i) + insert + t.slice(i + cut);
      // The text reading sees the bytes decoded: a surrogate pair cut in two is U+FFFD in both.
      const bytes = Buffer.from(`xx${changed}yy`);
      const text = bytes.toString('utf8', 2, bytes.length - 2);
      assert.equal(outcome(() => canonicalDetails(bytes, 2, bytes.length - 2)), outcome(() => reference(text)), changed);
    }), { numRuns: 5000 });
  });

  test('leaves lines with a proof to the text reading', () => {
    const line = Buffer.from(logNdjsonLine(base[2]!, proofJson(6, [Buffer.alloc(32, 7)])).slice(0, -1));
    assert.equal(new LogLineReader().read(line, 0, line.length), null);
  });
});

describe('offline verification over the byte reading', () => {
  const keys = generateKeyPairSync('ed25519');
  const COUNT = 1500;
  const CHUNK = 256 * 1024;

  /** The logSeqs of the lines that a 256 KiB read chunk ends inside. */
  function straddling(lines: readonly string[]): number[] {
    const found: number[] = [];
    let offset = 0;
    lines.forEach((l, i) => {
      const next = offset + Buffer.byteLength(l) + 1;
      if (Math.floor(offset / CHUNK) !== Math.floor((next - 1) / CHUNK)) found.push(i + 1);
      offset = next;
    });
    return found;
  }

  async function exported(): Promise<{ file: string; text: string }> {
    const file = path.join(await scratchDir('callvault-log-bytes-'), 'export.ndjson');
    await writeLogExport(file, ACME, COUNT, keys.privateKey);
    return { file, text: await readFile(file, 'utf8') };
  }

  test('lines across read chunks and a byte-order mark verify; an edit past the first chunk fails at its event', async () => {
    const { file, text } = await exported();
    assert.ok(Buffer.byteLength(text) > 3 * CHUNK, 'the export spans several read chunks');
    await writeFile(file, `\uFEFF${text}`);
    const ok = await verifyLogExport(file, { publicKey: keys.publicKey });
    assert.equal(ok.ok, true, ok.reason);
    assert.equal(ok.log.checked, COUNT);
    const original = text.split('\n');
    for (const logSeq of [1, 2, ...straddling(original), COUNT]) {
      const lines = [...original];
      lines[logSeq - 1] = lines[logSeq - 1]!.replace(/"actorSub":"user-\d"/, '"actorSub":"mallory"');
      await writeFile(file, lines.join('\n'));
      const r = await verifyLogExport(file, { publicKey: keys.publicKey });
      assert.equal(r.failedAt, `logSeq ${logSeq}`, r.reason);
      assert.match(r.reason ?? '', new RegExp(`event ${logSeq} was altered`));
    }
  });

  test('a line whose bytes are not UTF-8 is read as text, so it fails as altered even when its raw bytes were hashed', async () => {
    const { file, text } = await exported();
    const lines = text.split('\n').map((l) => Buffer.from(l));
    const k = 700;
    // userAgent "bench/1.0" with a byte that is no UTF-8: the text reading sees U+FFFD in its place.
    const line = Buffer.from(lines[k - 1]!);
    line[line.indexOf('"userAgent":"bench/1.0"') + 20] = 0xff;
    assert.equal(isUtf8(line), false);
    const raw = new LogLineReader().canonical(line)!;
    const prevHash = Buffer.from(text.split('\n')[k - 2]!.slice(-66, -2), 'hex');
    const forged = createHash('sha256').update(prevHash).update(raw).digest('hex');
    line.write(forged, line.length - 66, 'latin1');
    lines[k - 1] = line;
    await writeFile(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])).subarray(0, -1));
    const r = await verifyLogExport(file, { publicKey: keys.publicKey });
    assert.equal(r.failedAt, `logSeq ${k}`, r.reason);
    assert.match(r.reason ?? '', new RegExp(`event ${k} was altered`));
  });
});
