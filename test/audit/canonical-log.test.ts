import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalLogEvent, formatAt, hashLogEvent, jcs, logEventLeaf, sealLogEvent } from '../../src/audit/canonical.js';
import { GENESIS_HASH, type LogEvent } from '../../src/audit/types.js';

/** The per-log example of docs/audit.md: if this changes, every per-log hash and root would stop verifying. */
const EXAMPLE: Omit<LogEvent, 'hash' | 'seq'> = {
  log: 'callvault.example.com/prod-eu/tenant/acme', logSeq: 2, recordingPrev: 1,
  at: new Date('2026-12-02T09:30:00.120Z'), tenant: 'acme', actorSub: 'alice', actorRole: 'supervisor',
  action: 'media.read', outcome: 'allowed', recordingId: '5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10', linkId: null,
  ip: '203.0.113.7', userAgent: null, requestId: 'r-1', details: { range: 'bytes=0-1023', bytes: 1024, 'é': ['x', true] },
  prevHash: GENESIS_HASH,
};
const EXAMPLE_CANONICAL = '{"action":"media.read","actorRole":"supervisor","actorSub":"alice","at":"2026-12-02T09:30:00.120Z",'
  + '"details":{"bytes":1024,"range":"bytes=0-1023","é":["x",true]},"ip":"203.0.113.7","linkId":null,'
  + '"log":"callvault.example.com/prod-eu/tenant/acme","logSeq":2,"outcome":"allowed",'
  + `"prevHash":"${GENESIS_HASH}","recordingId":"5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10","recordingPrev":1,"requestId":"r-1",`
  + '"tenant":"acme","userAgent":null}';
const EXAMPLE_HASH = '783fd34f23cdef9aadea7cad3dd97b7479bdd4ba39915d61c1502fae48209499';
const EXAMPLE_LEAF = 'e2515f5c32958679c53df277bda22e5b473ed7cfe813a4fc59a2b21a8213f054';

describe('canonical per-log encoding', () => {
  test('is the documented byte string, with log, logSeq and recordingPrev in place of seq', () => {
    assert.equal(canonicalLogEvent(EXAMPLE), EXAMPLE_CANONICAL);
    // A global seq that slipped into the object must not reach the encoding.
    assert.equal(canonicalLogEvent({ ...EXAMPLE, seq: 99 } as Omit<LogEvent, 'hash'>), EXAMPLE_CANONICAL);
  });

  test('hash = SHA-256(prevHash bytes || canonical UTF-8), leaf = SHA-256(0x00 || canonical UTF-8), pinned', () => {
    const bytes = Buffer.from(EXAMPLE_CANONICAL, 'utf8');
    assert.equal(hashLogEvent(EXAMPLE), createHash('sha256').update(Buffer.alloc(32)).update(bytes).digest('hex'));
    assert.equal(hashLogEvent(EXAMPLE), EXAMPLE_HASH);
    assert.equal(logEventLeaf(EXAMPLE).toString('hex'), createHash('sha256').update(Buffer.of(0)).update(bytes).digest('hex'));
    assert.equal(logEventLeaf(EXAMPLE).toString('hex'), EXAMPLE_LEAF);
    const sealed = sealLogEvent(EXAMPLE);
    assert.deepEqual([sealed.hash, sealed.leaf.toString('hex')], [EXAMPLE_HASH, EXAMPLE_LEAF], 'the writer seals as the verifier checks');
  });

  test('every field changes the hash; recordingPrev null differs from 0', () => {
    const base = hashLogEvent(EXAMPLE);
    const variants: Partial<Omit<LogEvent, 'hash' | 'seq'>>[] = [
      { log: 'callvault.example.com/prod-eu/tenant/acmf' }, { logSeq: 3 }, { recordingPrev: null }, { recordingPrev: 0 },
      { at: new Date(EXAMPLE.at.getTime() + 1) }, { tenant: null }, { actorSub: 'bob' }, { actorRole: null },
      { action: 'link.issued' }, { outcome: 'denied' }, { recordingId: null }, { linkId: 'l' }, { ip: '203.0.113.8' },
      { userAgent: '' }, { requestId: null }, { details: {} }, { prevHash: 'f'.repeat(64) },
    ];
    const seen = new Set([base]);
    for (const v of variants) {
      const h = hashLogEvent({ ...EXAMPLE, ...v });
      assert.ok(!seen.has(h), JSON.stringify(v));
      seen.add(h);
    }
  });

  test('is jcs of the object of the event members, whatever their values', () => {
    const variants: Partial<Omit<LogEvent, 'hash' | 'seq'>>[] = [
      {}, { tenant: null, actorRole: null, recordingId: null, linkId: null, ip: null, userAgent: null, requestId: null, recordingPrev: null },
      { actorSub: 'é"\\\n\u2028😀', details: { z: [1, { b: null, a: 'x' }], a: -0, é: 1.5e-7 } }, { logSeq: 2 ** 40, recordingPrev: 0 },
    ];
    for (const v of variants) {
      const e = { ...EXAMPLE, ...v };
      const { at, ...members } = e;
      assert.equal(canonicalLogEvent(e), jcs({ ...members, at: formatAt(at) }), JSON.stringify(v));
    }
  });

  test('rejects a prevHash that is not 64 lower-case hex digits', () => {
    assert.throws(() => hashLogEvent({ ...EXAMPLE, prevHash: 'F'.repeat(64) }), TypeError);
    assert.throws(() => sealLogEvent({ ...EXAMPLE, prevHash: 'F'.repeat(64) }), TypeError);
  });
});
