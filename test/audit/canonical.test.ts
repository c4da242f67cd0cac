import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalEvent, cleanText, formatAt, hashEvent, jcs, normaliseDetails, parseCanonicalAt } from '../../src/audit/canonical.js';
import { CsvParser, decodeCsvCell, encodeCsvText, csvRecord } from '../../src/audit/csv.js';
import { GENESIS_HASH, type AuditEvent } from '../../src/audit/types.js';

/** The example of docs/audit.md: if this changes, every stored hash would stop verifying. */
const EXAMPLE: Omit<AuditEvent, 'hash'> = {
  seq: 1, at: new Date('2026-11-21T09:30:00.120Z'), tenant: 'acme', actorSub: 'alice', actorRole: 'supervisor',
  action: 'media.read', outcome: 'allowed', recordingId: '5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10', linkId: null,
  ip: '203.0.113.7', userAgent: null, requestId: 'r-1', details: { range: 'bytes=0-1023', bytes: 1024, 'é': ['x', true] },
  prevHash: GENESIS_HASH,
};
const EXAMPLE_CANONICAL = '{"action":"media.read","actorRole":"supervisor","actorSub":"alice","at":"2026-11-21T09:30:00.120Z",'
  + '"details":{"bytes":1024,"range":"bytes=0-1023","é":["x",true]},"ip":"203.0.113.7","linkId":null,"outcome":"allowed",'
  + `"prevHash":"${GENESIS_HASH}","recordingId":"5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10","requestId":"r-1","seq":1,`
  + '"tenant":"acme","userAgent":null}';
const EXAMPLE_HASH = '17426a28783f3e4ee80e3d466fe9a0622f8d7190d556c8317ace52cecece3358';

describe('canonical encoding', () => {
  test('is the documented byte string', () => {
    assert.equal(canonicalEvent(EXAMPLE), EXAMPLE_CANONICAL);
  });

  test('hash = SHA-256(prevHash bytes || canonical UTF-8), pinned', () => {
    const expected = createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(EXAMPLE_CANONICAL, 'utf8')).digest('hex');
    assert.equal(hashEvent(EXAMPLE), expected);
    assert.equal(hashEvent(EXAMPLE), EXAMPLE_HASH);
  });

  test('every field changes the hash', () => {
    const base = hashEvent(EXAMPLE);
    const variants: Partial<Omit<AuditEvent, 'hash'>>[] = [
      { seq: 2 }, { at: new Date(EXAMPLE.at.getTime() + 1) }, { tenant: null }, { actorSub: 'bob' }, { actorRole: null },
      { action: 'link.issued' }, { outcome: 'denied' }, { recordingId: null }, { linkId: 'l' }, { ip: '203.0.113.8' },
      { userAgent: '' }, { requestId: null }, { details: {} }, { prevHash: 'f'.repeat(64) },
    ];
    for (const v of variants) assert.notEqual(hashEvent({ ...EXAMPLE, ...v }), base, JSON.stringify(v));
  });

  test('null and empty string differ', () => {
    assert.notEqual(hashEvent({ ...EXAMPLE, userAgent: null }), hashEvent({ ...EXAMPLE, userAgent: '' }));
  });

  test('does not depend on the process time zone', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Chatham';
      assert.equal(canonicalEvent(EXAMPLE), EXAMPLE_CANONICAL);
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });

  // U+1F600 sorts before U+FB33 by UTF-16 code units (0xD83D < 0xFB33), after it by code points.
  test('JCS: sorted keys by UTF-16 code units, ECMAScript numbers, escapes', () => {
    assert.equal(jcs({ b: 1, a: 2, A: 3, '\u20ac': 4, '\ud83d\ude00': 5, '\ufb33': 6 }), '{"A":3,"a":2,"b":1,"\u20ac":4,"\ud83d\ude00":5,"\ufb33":6}');
    assert.equal(jcs([1e21, 1e-7, -0, 0.1, 123456789012345680000, 4.5]), '[1e+21,1e-7,0,0.1,123456789012345680000,4.5]');
    assert.equal(jcs('a"b\\c\n\u0001\u007f'), '"a\\"b\\\\c\\n\\u0001\u007f"');
    assert.throws(() => jcs(Number.NaN), TypeError);
  });

  test('timestamps are RFC 3339 UTC with exactly three fractional digits', () => {
    assert.equal(formatAt(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))), '2026-01-02T03:04:05.006Z');
    assert.equal(parseCanonicalAt('2026-01-02T03:04:05.006Z')?.getTime(), Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    for (const bad of ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.006+00:00', '2026-01-02 03:04:05.006Z', '2026-02-30T00:00:00.000Z']) {
      assert.equal(parseCanonicalAt(bad), null, bad);
    }
  });

  test('details are normalised to what the database stores', () => {
    const d = normaliseDetails({ a: undefined, b: new Date(0), c: 'x\0y', 'k\ud800': '\udc00', __proto__x: 1 });
    assert.deepEqual(d, { b: '1970-01-01T00:00:00.000Z', c: 'x\uFFFDy', 'k\uFFFD': '\uFFFD', __proto__x: 1 });
    const proto = normaliseDetails(JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.keys(proto), ['__proto__']);
    assert.throws(() => normaliseDetails({ n: 10n }), TypeError);
    assert.equal(cleanText('ok 😀'), 'ok 😀');
  });
});

describe('CSV cells', () => {
  function roundTrip(values: (string | null)[]): (string | null)[] {
    const parser = new CsvParser();
    const text = csvRecord(values.map(encodeCsvText));
    const records = [...parser.push(text.slice(0, 3)), ...parser.push(text.slice(3)), ...parser.end()];
    assert.equal(records.length, 1);
    return (records[0] ?? []).map(decodeCsvCell);
  }

  test('neutralise formulas and stay reversible', () => {
    assert.equal(encodeCsvText('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"');
    for (const lead of ['=', '+', '-', '@', '\t', '\r', "'"]) assert.equal(encodeCsvText(`${lead}1`), `"'${lead}1"`);
    assert.equal(encodeCsvText('plain'), '"plain"');
    assert.deepEqual(roundTrip(['=1+1', "'quoted", "''", null, '', 'a,b\r\n"c"', '-', '\t']), ['=1+1', "'quoted", "''", null, '', 'a,b\r\n"c"', '-', '\t']);
  });

  test('any strings and nulls round-trip', () => {
    fc.assert(fc.property(fc.array(fc.option(fc.string({ unit: 'grapheme' }), { nil: null }), { minLength: 1, maxLength: 8 }), (values) => {
      assert.deepEqual(roundTrip(values), values);
    }), { numRuns: 300 });
  });
});
