import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bearerToken, headers, identifier, linkBody, multipart, policyBody, policyName, rangeHeader, searchQuery, target } from './arbitraries.js';
import { describeFailure, runCase, type HostileCase } from './corpus.js';
import { NOT_AUDIO } from './cases/build.js';
import { assertAlive, errorLogLines, leftoverTempFiles } from './support.js';
import { startHostileVault, type HostileVault } from './vault.js';

/**
 * The generated half of the hostile-input corpus: each property sends RUNS fresh requests
 * (a new random seed every run, so the corpus keeps finding new cases; fast-check prints the
 * seed and the shrunk counterexample of any failure) and holds them to the same contract as
 * the hand-written cases: never a 5xx, refusals are problem+json, the vault stays up.
 */
const RUNS = 100;

describe('hostile input corpus (generated)', () => {
  let h: HostileVault;
  before(async () => { h = await startHostileVault(); });
  after(async () => { await h.close(); });

  /** Runs the case and fails the property with a readable verdict when it broke the contract. */
  const holds = async (c: HostileCase, extra?: (status: number, headers: Record<string, string>, body: Buffer) => string[]): Promise<void> => {
    const result = await runCase(h.vault, c);
    const res = result.exchange.response;
    const failures = [...result.failures, ...(res && extra ? extra(res.status, res.headers, res.body) : [])];
    assert.deepEqual(failures, [], describeFailure(c, { ...result, failures }));
  };
  const check = async <T>(arb: fc.Arbitrary<T>, toCase: (value: T) => HostileCase, extra?: Parameters<typeof holds>[1]): Promise<void> => {
    await fc.assert(fc.asyncProperty(arb, (value) => holds(toCase(value), extra)), { numRuns: RUNS });
    await assertAlive(h);
  };

  test('callIds and recording ids with separators, dots, NUL, unicode and overlong text', async () => {
    await check(identifier, (id) => ({ name: 'generated callId upload', request: { method: 'PUT', target: target('/v1/recordings/', id), token: h.tokens.pbx, headers: [['Content-Type', 'audio/ogg']], body: NOT_AUDIO }, expect: '4xx' }));
    await check(identifier, (id) => ({ name: 'generated recording id read', request: { target: target('/v1/recordings/', id), token: h.tokens.supervisor }, expect: 'not-5xx' }));
  });

  test('search query strings: filters, limits and cursors', async () => {
    await check(searchQuery(h), (qs) => ({ name: `generated search ?${qs.slice(0, 200)}`, request: { target: `/v1/recordings?${qs}`, token: h.tokens.supervisor }, expect: 'not-5xx' }));
  });

  test('Range headers against a real playback link', async () => {
    const size = h.recordingBytes;
    await check(rangeHeader(size), (range) => ({ name: `generated Range ${JSON.stringify(range)}`, request: { target: h.mediaPath, headers: [['Range', range]] }, expect: 'not-5xx' }), (status, hd, body) => {
      if (status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(hd['content-range'] ?? '');
        if (!m || Number(m[3]) !== size || Number(m[2]) >= size || body.length !== Number(m[2]) - Number(m[1]) + 1) return [`206 with Content-Range ${hd['content-range'] ?? '(none)'} and ${body.length} bytes`];
      }
      if (status === 416 && hd['content-range'] !== `bytes */${size}`) return [`416 with Content-Range ${hd['content-range'] ?? '(none)'}`];
      if (status === 200 && body.length !== size) return [`200 with ${body.length} of ${size} bytes`];
      return [];
    });
  });

  test('JSON bodies for POST /v1/recordings/{id}/links', async () => {
    await check(linkBody, (body) => ({ name: `generated link body ${JSON.stringify(body.toString()).slice(0, 200)}`, request: { method: 'POST', target: `/v1/recordings/${h.recordingId}/links`, token: h.tokens.supervisor, headers: [['Content-Type', 'application/json']], body }, expect: 'not-5xx' }));
  });

  test('JSON bodies and names for PUT /v1/retention-policies/{name}, durations out of range', async () => {
    await check(fc.tuple(policyName, policyBody), ([name, body]) => ({
      name: `generated policy ${name.slice(0, 60)} ${body.slice(0, 200)}`,
      request: { method: 'PUT', target: `/v1/retention-policies/${name}`, token: h.tokens.admin, headers: [['Content-Type', 'application/json']], body }, expect: 'not-5xx',
    }));
  });

  test('bearer tokens: forged, mutated, and properly signed with hostile claims', async () => {
    await check(bearerToken(h), (token) => ({ name: `generated token ${token.slice(0, 300)}`, request: { target: '/v1/recordings?limit=1', headers: [['Authorization', `Bearer ${token}`]] }, expect: 'not-5xx' }));
  });

  test('multipart bodies with random parts, names, boundaries and truncation', async () => {
    await check(multipart, ({ boundary, body }) => ({
      name: `generated multipart ${JSON.stringify(body.toString('latin1').slice(0, 300))}`,
      request: { method: 'POST', target: '/v1/recordings', token: h.tokens.pbx, headers: [['Content-Type', `multipart/form-data; boundary=${boundary}`]], body }, expect: 'not-5xx',
    }));
  });

  test('arbitrary extra headers on an authenticated search', async () => {
    await check(headers, (extra) => ({ name: `generated headers ${JSON.stringify(extra.map(([n, v]) => [n, v.toString()]))}`, request: { target: '/v1/recordings?limit=1', token: h.tokens.supervisor, headers: extra }, expect: 'not-5xx' }));
  });

  test('no generated upload was left half-staged and nothing was logged as an internal error', async () => {
    assert.deepEqual(await leftoverTempFiles(h), []);
    assert.deepEqual(errorLogLines(h.logLines).map((l) => l.slice(0, 400)), []);
  });
});
