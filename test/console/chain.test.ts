import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { AUDIT_ACTIONS } from '../../src/audit/types.js';
import { exportChunks } from '../../src/audit/export.js';
import { auditFixture, event, type AuditFixture } from '../audit/support.js';

/** One line of an NDJSON export, as the browser module sees it. */
interface AuditEventLine { seq?: number; at: string; actorSub: string; outcome: string; requestId: string | null; prevHash: string; hash: string; details: Record<string, unknown> }
interface ChainResult { ok: boolean; checked: number; links: number; firstBad: AuditEventLine | null; reason: string | null }

// The module is browser JavaScript (checked by the console's own tsconfig): loaded by a specifier
// the compiler does not follow, under the shape its JSDoc declares.
const CHAIN_MODULE = '../../src/console/assets/lib/chain.js';
const { verifyEvents } = (await import(CHAIN_MODULE)) as { verifyEvents(events: readonly object[]): Promise<ChainResult> };
const ACTIONS_MODULE = '../../src/console/assets/lib/audit-actions.js';
const consoleActions = ((await import(ACTIONS_MODULE)) as { AUDIT_ACTIONS: string[] }).AUDIT_ACTIONS;

/** The console's in-browser verifier (WebCrypto; node has the same API) against the real writer's export. */
describe('console chain verification', () => {
  let f: AuditFixture;
  let lines: AuditEventLine[];
  before(async () => {
    f = await auditFixture();
    const log = new ChainedAuditLog(f.db);
    const awkward: Array<Record<string, unknown>> = [
      { reason: '<script>alert(1)</script>', range: 'bytes=0-1023', start: 0, end: 1023 },
      { 'é': ['x', true], '\u{1F600}': 1, 'דּ': 2, big: 1e21, small: 1e-7, neg: -0.5, ctl: '\u0001\t\n"\\' },
      { nested: { z: [{ b: 2, a: 1 }], a: null } },
    ];
    for (let i = 1; i <= 12; i++) await log.record(event(i, { tenant: i % 3 === 0 ? 'globex' : 'acme', details: awkward[i % 3] }));
    await log.close();
    let text = '';
    for await (const chunk of exportChunks(f.db, { tenant: 'acme' }, 'ndjson')) text += chunk;
    lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEventLine);
  });
  after(async () => { await f.close(); });

  test('recomputes every hash of a tenant export and checks the links between neighbours', async () => {
    assert.equal(lines.length, 8);
    const result = await verifyEvents(lines);
    assert.deepEqual({ ok: result.ok, checked: result.checked, reason: result.reason }, { ok: true, checked: 8, reason: null });
    // seq 1-2, 4-5, 7-8, 10-11 are neighbours in the single chain; globex holds 3, 6, 9, 12.
    assert.equal(result.links, 4);
  });

  test('the documented test vector verifies', async () => {
    const vector = {
      action: 'media.read', actorRole: 'supervisor', actorSub: 'alice', at: '2026-11-21T09:30:00.120Z',
      details: { bytes: 1024, range: 'bytes=0-1023', 'é': ['x', true] }, ip: '203.0.113.7', linkId: null, outcome: 'allowed',
      prevHash: '0'.repeat(64), recordingId: '5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10', requestId: 'r-1', seq: 1, tenant: 'acme', userAgent: null,
      hash: '17426a28783f3e4ee80e3d466fe9a0622f8d7190d556c8317ace52cecece3358',
    };
    assert.equal((await verifyEvents([vector])).ok, true);
  });

  test('any edit of a field, a reordered link or a reformatted time names the event', async () => {
    const edits: Array<[string, (e: AuditEventLine) => AuditEventLine]> = [
      ['actor', (e) => ({ ...e, actorSub: 'mallory' })],
      ['outcome', (e) => ({ ...e, outcome: 'denied' })],
      ['details', (e) => ({ ...e, details: { ...e.details, reason: 'other' } })],
      ['time', (e) => ({ ...e, at: e.at.replace('Z', '+00:00') })],
      ['seq', (e) => ({ ...e, seq: (e.seq ?? 0) + 100 })],
    ];
    for (const [what, edit] of edits) {
      const tampered = lines.map((e, i) => (i === 3 ? edit(e) : e));
      const result = await verifyEvents(tampered);
      assert.equal(result.ok, false, what);
      assert.equal(result.firstBad?.requestId, lines[3]?.requestId, what);
    }
    const second = lines[1];
    const first = lines[0];
    assert.ok(first && second);
    const relinked = await verifyEvents([first, { ...second, prevHash: first.prevHash }]);
    assert.equal(relinked.ok, false, 'a prevHash changed to skip its neighbour');
  });

  test('the audit viewer offers exactly the server\'s audit actions as filters', () => {
    assert.deepEqual([...consoleActions].sort(), [...AUDIT_ACTIONS].sort());
  });
});
