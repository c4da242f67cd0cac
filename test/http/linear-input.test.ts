import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { parseSubjectAltNames } from '../../src/auth/pbx-gate.js';
import { sourceKey } from '../../src/guards/source.js';
import { scrubText } from '../../src/http/log-redaction.js';
import { bearerToken, isJwtShaped } from '../../src/http/secure-router.js';
import { decideRange } from '../../src/media/range.js';
import { expectedSha256 } from '../../src/ingest/body.js';

/**
 * Everything that runs a regular expression over client input before (or without)
 * authentication, timed on adversarial inputs of n and 4n characters. Linear work grows about
 * 4x, quadratic work about 16x; the test fails above 8x (see growth() for how noise is kept out).
 */
const SMALL = 16 * 1024;
const LARGE = 64 * 1024;
const MAX_RATIO = 8;

/** Repeats `unit` until the text is `length` characters long. */
function fill(unit: string, length: number, prefix = '', suffix = ''): string {
  const body = length - prefix.length - suffix.length;
  return prefix + unit.repeat(Math.ceil(body / unit.length)).slice(0, body) + suffix;
}

function swallow(fn: (text: string) => unknown): (text: string) => void {
  return (text) => {
    try {
      fn(text);
    } catch {
      // a refusal is an answer too; only the time it took matters here
    }
  };
}

interface Case { readonly name: string; readonly input: (n: number) => string; readonly run: (text: string) => unknown; readonly small?: number }

const scrub = (text: string): unknown => scrubText(text);
const CASES: readonly Case[] = [
  { name: 'scrub: ey-ey-ey path', input: (n) => fill('ey-', n, '{"url":"/v1/'), run: scrub },
  { name: 'scrub: one long ey run without dots', input: (n) => fill('A', n, 'ey'), run: scrub },
  { name: 'scrub: ey segments without a second dot', input: (n) => fill('eyAAAAAAAAAAAAAAAAA.', n), run: scrub },
  { name: 'scrub: JWT-like runs split by dots', input: (n) => fill('.ey0123456789abcdefgh', n), run: scrub },
  { name: 'scrub: private key headers without an end', input: (n) => fill('-----BEGIN PRIVATE KEY-----', n), run: scrub },
  { name: 'scrub: private key header words', input: (n) => fill('A ', n, '-----BEGIN '), run: scrub },
  { name: 'scrub: private key with many false ends', input: (n) => fill('-----END RSA ', n, '-----BEGIN PRIVATE KEY-----'), run: scrub },
  { name: 'scrub: Bearer and spaces', input: (n) => fill(' ', n, 'Bearer', '"'), run: scrub },
  { name: 'scrub: repeated Basic', input: (n) => fill('Basic%2', n), run: scrub },
  { name: 'scrub: media paths', input: (n) => fill('/media/', n), run: scrub },
  { name: 'scrub: token parameters', input: (n) => fill('?token=&sig=', n), run: scrub },
  { name: 'JWT shape: trailing junk', input: (n) => fill('a', n, 'a.', '!'), run: isJwtShaped },
  { name: 'JWT shape: dots in the third segment', input: (n) => fill('a.', n, 'a.a', '!'), run: isJwtShaped },
  { name: 'Bearer header', input: (n) => fill('a', n, 'Bearer a.', '!'), run: bearerToken, small: 4 * 1024 },
  { name: 'Basic header', input: (n) => fill('YS5h', n, 'Basic ', '!'), run: bearerToken, small: 4 * 1024 },
  { name: 'Range header', input: (n) => fill(' ', n, 'bytes=', '\u2028'), run: (t) => decideRange(t, 100) },
  { name: 'Content-Digest header', input: (n) => fill('A', n, 'sha-256=:', '!'), run: swallow((t: string) => expectedSha256(t, undefined)) },
  { name: 'Content-Digest header, many entries', input: (n) => fill(',sha-256=:AAAA', n), run: swallow((t: string) => expectedSha256(t, undefined)) },
  { name: 'client certificate SANs', input: (n) => fill('DNS:a, ', n), run: parseSubjectAltNames },
  { name: 'forwarded client address', input: (n) => fill('1', n, '::ffff:', '.1.1.x'), run: sourceKey },
] as const;

function batchSize(run: () => void): number {
  let once = Infinity;
  for (let r = 0; r < 3; r++) {
    const started = performance.now();
    run();
    once = Math.min(once, performance.now() - started);
  }
  return Math.max(1, Math.ceil(3 / Math.max(once, 0.0005)));
}

function timeBatch(run: () => void, iterations: number): number {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) run();
  return (performance.now() - started) / iterations;
}

/**
 * Per-run time of the long input over that of the short one. Batches of a few milliseconds
 * alternate between the two sizes, so a busy machine slows both alike, and each size keeps its
 * fastest batch. On a heavily loaded machine a whole measurement can still be unlucky; a
 * super-linear parser is slow in every one of them, so the best of three is taken.
 */
function growth(runShort: () => void, runLong: () => void, rounds = 15, attempts = 3): { ratio: number; shortMs: number; longMs: number } {
  let best = { ratio: Infinity, shortMs: 0, longMs: 0 };
  for (let a = 0; a < attempts && best.ratio >= MAX_RATIO; a++) {
    const shortBatch = batchSize(runShort);
    const longBatch = batchSize(runLong);
    let shortMs = Infinity;
    let longMs = Infinity;
    for (let r = 0; r < rounds; r++) {
      shortMs = Math.min(shortMs, timeBatch(runShort, shortBatch));
      longMs = Math.min(longMs, timeBatch(runLong, longBatch));
    }
    if (longMs / shortMs < best.ratio) best = { ratio: longMs / shortMs, shortMs, longMs };
  }
  return best;
}

describe('regular expressions over client input run in linear time', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const small = c.small ?? SMALL;
      const shortText = c.input(small);
      const longText = c.input(small * (LARGE / SMALL));
      assert.equal(longText.length, 4 * shortText.length);
      const { ratio, shortMs, longMs } = growth(() => { c.run(shortText); }, () => { c.run(longText); });
      assert.ok(ratio < MAX_RATIO, `${c.name}: ${longText.length} chars took ${ratio.toFixed(1)}x the time of ${shortText.length} (${longMs.toFixed(3)} ms vs ${shortMs.toFixed(3)} ms a run); linear is about 4x`);
    });
  }
});
