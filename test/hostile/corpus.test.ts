import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostileCase } from './corpus.js';
import { jwtCases, roleCases } from './cases/auth.js';
import { contentTypeCases, jsonBodyCases, multipartCases } from './cases/bodies.js';
import { durationCases, governanceCases } from './cases/governance.js';
import { identifierCases, traversalCases } from './cases/paths.js';
import { cursorCases, metadataCases, searchCases } from './cases/queries.js';
import { rangeCases } from './cases/ranges.js';
import { truncatedCases } from './cases/truncated.js';
import { framingCases, headerCases } from './cases/wire.js';
import { assertAlive, errorLogLines, leftoverTempFiles, runCases } from './support.js';
import { startHostileVault, type HostileVault } from './vault.js';

/**
 * The hand-written half of the hostile-input corpus: every case must be answered 4xx
 * problem+json (or, where the contract serves it, 2xx), never 5xx, and the vault must still be
 * up afterwards. The generated half is in generated.test.ts.
 */
const CATEGORIES: ReadonlyArray<readonly [string, (h: HostileVault) => HostileCase[]]> = [
  ['path traversal in identifiers', traversalCases],
  ['huge, NUL-bearing, non-UTF-8 and unknown identifiers', identifierCases],
  ['header floods and malformed headers', headerCases],
  ['request lines, smuggling shapes and chunked framing', framingCases],
  ['wrong Content-Type and Content-Encoding', contentTypeCases],
  ['multipart: zero files, two files, bombs, malformed', multipartCases],
  ['bad JSON bodies', jsonBodyCases],
  ['search filters and oversized query strings', searchCases],
  ['bad cursors', cursorCases],
  ['upload metadata and digests', metadataCases],
  ['ISO-8601 durations out of range and policy names', durationCases],
  ['legal holds, erasure, keys, tenant settings, audit export', governanceCases],
  ['JWT attacks', jwtCases],
  ['roles a route does not allow', roleCases],
  ['Range headers against a real link', rangeCases],
  ['truncated bodies', truncatedCases],
];

describe('hostile input corpus (hand-written)', () => {
  let h: HostileVault;
  before(async () => { h = await startHostileVault(); });
  after(async () => { await h.close(); });

  test('the corpus is large enough and its names are unique', () => {
    const names = CATEGORIES.flatMap(([, build]) => build(h).map((c) => c.name));
    assert.ok(names.length >= 200, `only ${names.length} hand-written cases`);
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], 'duplicate case names');
  });

  for (const [category, build] of CATEGORIES) {
    test(category, async () => {
      const failures = await runCases(h, build(h));
      await assertAlive(h);
      assert.deepEqual(failures, [], `${failures.length} case(s) broke the contract:\n${failures.join('\n')}`);
    });
  }

  test('no refused or abandoned upload was left half-staged', async () => {
    assert.deepEqual(await leftoverTempFiles(h), []);
  });

  test('nothing the corpus sent was logged as an internal error', () => {
    assert.deepEqual(errorLogLines(h.logLines).map((l) => l.slice(0, 400)), []);
  });
});
