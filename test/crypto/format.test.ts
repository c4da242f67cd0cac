import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import {
  DEFAULT_SEGMENT_SIZE, FORMAT_VERSION, HEADER_BYTES, TAG_BYTES, cipherRangeFor, ciphertextSize,
  createDecryptStream, createEncryptStream, createObjectDecryptStream, parseHeader, segmentCount,
} from '../../src/crypto/index.js';
import { segmentNonce } from '../../src/crypto/format.js';
import { IntegrityError } from '../../src/errors.js';
import { FIXTURES, FIXTURE_DIR, chunked, openObject, openRange, seal, sealFile, sha256 } from './support.js';

const S = 4096;
const key = randomBytes(32);

describe('header and sizes', () => {
  test('header is magic, version, segment size and a fresh 7-byte nonce prefix', async () => {
    const a = await seal(randomBytes(10), { segmentSize: 8192 });
    const b = await seal(randomBytes(10), { segmentSize: 8192 });
    assert.equal(a.header.length, HEADER_BYTES);
    assert.deepEqual(a.object.subarray(0, HEADER_BYTES), a.header);
    assert.equal(a.header.subarray(0, 4).toString('ascii'), 'CVLT');
    assert.equal(a.header[4], FORMAT_VERSION);
    assert.equal(a.header.readUInt32BE(5), 8192);
    const parsed = parseHeader(a.header);
    assert.deepEqual(parsed, { version: 1, segmentSize: 8192, noncePrefix: a.header.subarray(9, 16) });
    assert.notDeepEqual(parseHeader(b.header).noncePrefix, parsed.noncePrefix);
  });

  test('parseHeader rejects short input, unknown magic, unknown version and bad segment sizes', async () => {
    const { header } = await seal(Buffer.alloc(0));
    const mutate = (at: number, write: (h: Buffer) => void): Buffer => { const h = Buffer.from(header); write(h); return h.subarray(0, at); };
    assert.throws(() => parseHeader(header.subarray(0, 15)), IntegrityError);
    assert.throws(() => parseHeader(mutate(16, (h) => h.write('CVR1', 0, 'ascii'))), IntegrityError);
    assert.throws(() => parseHeader(mutate(16, (h) => { h[4] = 2; })), IntegrityError);
    assert.throws(() => parseHeader(mutate(16, (h) => { h[4] = 0; })), IntegrityError);
    assert.throws(() => parseHeader(mutate(16, (h) => h.writeUInt32BE(4095, 5))), IntegrityError);
    assert.throws(() => parseHeader(mutate(16, (h) => h.writeUInt32BE(8 * 1024 * 1024 + 1, 5))), IntegrityError);
    assert.equal(parseHeader(mutate(16, (h) => h.writeUInt32BE(8 * 1024 * 1024, 5))).segmentSize, 8 * 1024 * 1024);
    assert.equal(parseHeader(Buffer.concat([header, Buffer.alloc(40)])).segmentSize, DEFAULT_SEGMENT_SIZE);
  });

  test('encrypt stream validates its options', () => {
    for (const segmentSize of [0, 4095, 4096.5, 8 * 1024 * 1024 + 1]) {
      assert.throws(() => createEncryptStream({ key, recordingId: 'r', segmentSize }), RangeError);
    }
    assert.equal(createEncryptStream({ key, recordingId: 'r', segmentSize: 4096 }).header.readUInt32BE(5), 4096);
    assert.equal(createEncryptStream({ key, recordingId: 'r' }).header.readUInt32BE(5), DEFAULT_SEGMENT_SIZE);
    assert.throws(() => createEncryptStream({ key: randomBytes(16), recordingId: 'r' }), TypeError);
    assert.throws(() => createEncryptStream({ key, recordingId: '' }), TypeError);
  });

  test('segmentCount and ciphertextSize follow 16 + P + 16 * max(1, ceil(P/S))', () => {
    const cases: [number, number][] = [[0, 1], [1, 1], [S - 1, 1], [S, 1], [S + 1, 2], [3 * S, 3], [3 * S + 7, 4]];
    for (const [p, n] of cases) {
      assert.equal(segmentCount(p, S), n, `count for ${p}`);
      assert.equal(ciphertextSize(p, S), 16 + p + 16 * n, `size for ${p}`);
    }
    assert.equal(segmentCount(2 ** 32 * S, S), 2 ** 32);
    assert.throws(() => segmentCount(2 ** 32 * S + 1, S), RangeError);
    assert.throws(() => ciphertextSize(-1, S), RangeError);
    assert.throws(() => ciphertextSize(10, 1000), RangeError);
  });

  test('nonce is prefix || u32 BE index || last flag, and the counter cannot overflow', () => {
    const prefix = Buffer.from('01020304050607', 'hex');
    assert.equal(segmentNonce(prefix, 0x0a0b0c0d, false).toString('hex'), '010203040506070a0b0c0d00');
    assert.equal(segmentNonce(prefix, 2 ** 32 - 1, true).toString('hex'), '01020304050607ffffffff01');
    assert.throws(() => segmentNonce(prefix, 2 ** 32, false), RangeError);
    assert.throws(() => segmentNonce(prefix, -1, false), RangeError);
  });

  test('cipherRangeFor covers exactly the touched segments, offsets counted from the object start', () => {
    const p = 3 * S + 7;
    const seg = S + TAG_BYTES;
    assert.deepEqual(cipherRangeFor(p, S, 0, 0), { firstSegment: 0, lastSegment: 0, cipherStart: 16, cipherEndInclusive: 16 + seg - 1 });
    assert.deepEqual(cipherRangeFor(p, S, S - 1, S), { firstSegment: 0, lastSegment: 1, cipherStart: 16, cipherEndInclusive: 16 + 2 * seg - 1 });
    assert.deepEqual(cipherRangeFor(p, S, S, 2 * S - 1), { firstSegment: 1, lastSegment: 1, cipherStart: 16 + seg, cipherEndInclusive: 16 + 2 * seg - 1 });
    assert.deepEqual(cipherRangeFor(p, S, 2 * S, p - 1), {
      firstSegment: 2, lastSegment: 3, cipherStart: 16 + 2 * seg, cipherEndInclusive: ciphertextSize(p, S) - 1,
    });
    assert.deepEqual(cipherRangeFor(S, S, 0, S - 1), { firstSegment: 0, lastSegment: 0, cipherStart: 16, cipherEndInclusive: ciphertextSize(S, S) - 1 });
    for (const [a, b] of [[-1, 3], [5, 4], [0, p], [0.5, 3], [0, Number.NaN]]) {
      assert.throws(() => cipherRangeFor(p, S, a as number, b as number), RangeError);
    }
    assert.throws(() => cipherRangeFor(0, S, 0, 0), RangeError);
  });
});

describe('round trip', () => {
  for (const name of FIXTURES) {
    for (const segmentSize of [S, DEFAULT_SEGMENT_SIZE]) {
      test(`${name} with ${segmentSize}-byte segments`, async () => {
        const original = readFileSync(`${FIXTURE_DIR}/${name}`);
        const sealed = await sealFile(name, segmentSize);
        assert.equal(sealed.object.length, ciphertextSize(original.length, segmentSize));
        const hash = createHash('sha256');
        const dec = createObjectDecryptStream({ key: sealed.key, recordingId: sealed.recordingId, plaintextSize: original.length });
        await pipeline(Readable.from(chunked(sealed.object, [1000, 7, 65536])), dec, new Writable({
          write(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(); },
        }));
        assert.equal(hash.digest('hex'), sha256(original));
      });
    }
  }

  const sizes = [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 7];
  const chunkings: [string, number[] | undefined][] = [
    ['one write', undefined], ['1-byte writes', [1]], ['S-byte writes', [S]], ['uneven writes', [3, 5000, S + 1, 2 * S + 3]],
  ];
  for (const size of sizes) {
    for (const [label, chunks] of chunkings) {
      test(`${size} bytes, ${label}`, async () => {
        const plaintext = randomBytes(size);
        const sealed = await seal(plaintext, { segmentSize: S, chunks });
        assert.equal(sealed.object.length, ciphertextSize(size, S));
        const out = await openObject(sealed.object, { ...sealed, plaintextSize: size }, chunks);
        assert.equal(sha256(out), sha256(plaintext));
        if (size > 0) assert.deepEqual(await openRange(sealed, size, 0, size - 1, chunks), plaintext);
      });
    }
  }

  test('an empty recording decrypts to nothing through the range stream without a range', async () => {
    const sealed = await seal(Buffer.alloc(0));
    const stream = createDecryptStream({ key: sealed.key, recordingId: sealed.recordingId, header: sealed.header, plaintextSize: 0 });
    const parts: Buffer[] = [];
    await pipeline(Readable.from([sealed.object.subarray(HEADER_BYTES)]), stream, new Writable({
      write(chunk: Buffer, _enc, cb) { parts.push(chunk); cb(); },
    }));
    assert.equal(Buffer.concat(parts).length, 0);
  });
});

describe('range reads', () => {
  const p = 5 * S + 123;
  const plaintext = randomBytes(p);
  const sealedP = seal(plaintext, { segmentSize: S });
  const ranges: [number, number][] = [
    [0, 0], [0, S - 1], [0, S], [S - 1, S - 1], [S - 1, S], [S, S], [S, 2 * S], [S + 1, 2 * S - 1], [S + 1, 2 * S + 1],
    [0, 2 * S], [S - 1, 4 * S + 1], [p - 1, p - 1], [5 * S, p - 1], [5 * S - 1, p - 1], [4 * S + 17, 4 * S + 17], [0, p - 1],
  ];
  for (const [start, end] of ranges) {
    test(`bytes ${start}-${end}`, async () => {
      const sealed = await sealedP;
      assert.deepEqual(await openRange(sealed, p, start, end), plaintext.subarray(start, end + 1));
      assert.deepEqual(await openRange(sealed, p, start, end, [13]), plaintext.subarray(start, end + 1));
    });
  }

  test('range arguments are validated with RangeError', async () => {
    const { key, recordingId, header } = await sealedP;
    const make = (start?: number, endInclusive?: number, plaintextSize = p) => () =>
      createDecryptStream({ key, recordingId, header, plaintextSize, start, endInclusive });
    for (const [a, b] of [[-1, 5], [6, 5], [0, p], [p, p], [1.5, 4], [0, Number.POSITIVE_INFINITY]]) {
      assert.throws(make(a, b), RangeError, `${a}-${b}`);
    }
    assert.throws(make(0, 0, 0), RangeError);
    assert.throws(make(0, 0, -1), RangeError);
    assert.doesNotThrow(make(p - 1));
    assert.doesNotThrow(make(undefined, 0));
  });

  test('property: any range of any plaintext decrypts to the matching slice', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 40_000 }),
      fc.integer({ min: 4096, max: 9000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 1, max: 20_000 }),
      async (size, segmentSize, u, v, chunk) => {
        const data = randomBytes(size);
        const sealed = await seal(data, { segmentSize, chunks: [chunk] });
        const [a, b] = [Math.floor(u * (size - 1)), Math.floor(v * (size - 1))];
        const [start, end] = a <= b ? [a, b] : [b, a];
        const out = await openRange(sealed, size, start, end, [chunk]);
        assert.deepEqual(out, data.subarray(start, end + 1));
      },
    ), { numRuns: 150 });
  });
});

/** True when some `run`-byte window of `needle` occurs in `haystack`. */
function sharesRun(needle: Buffer, haystack: Buffer, run: number): boolean {
  // Any run-byte common substring contains a (run/2)-byte window starting at a multiple of run/2.
  const half = run / 2;
  const windows = new Set<string>();
  for (let i = 0; i + half <= needle.length; i += half) windows.add(needle.toString('latin1', i, i + half));
  for (let j = 0; j + half <= haystack.length; j++) {
    if (windows.has(haystack.toString('latin1', j, j + half))) return true;
  }
  return false;
}

test('the ciphertext of a real recording contains no 64-byte run of its plaintext', async () => {
  const name = 'call-pcm16-8k-stereo.wav';
  const original = readFileSync(`${FIXTURE_DIR}/${name}`);
  assert.ok(sharesRun(original.subarray(1000, 1100), Buffer.concat([randomBytes(33), original]), 64), 'detector works');
  const { object } = await sealFile(name, S);
  assert.equal(sharesRun(original, object, 64), false);
});

test('encrypting a 256 MiB stream keeps memory bounded', async () => {
  const total = 256 * 1024 * 1024;
  const block = randomBytes(1024 * 1024 + 13);
  let left = total;
  const source = new Readable({
    read() {
      if (left === 0) { this.push(null); return; }
      const n = Math.min(left, block.length);
      left -= n;
      this.push(block.subarray(0, n));
    },
  });
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let written = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      written += chunk.length;
      if ((written & 0xfffff) < chunk.length) peak = Math.max(peak, process.memoryUsage().rss);
      setImmediate(cb);
    },
  });
  await pipeline(source, createEncryptStream({ key, recordingId: 'big' }), sink);
  peak = Math.max(peak, process.memoryUsage().rss);
  assert.equal(written, ciphertextSize(total, DEFAULT_SEGMENT_SIZE));
  assert.ok(peak - baseline < 64 * 1024 * 1024, `RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB`);
});

test('a fixture read from disk streams through encrypt and object decrypt in one pipeline', async () => {
  const name = 'call-16k-mono.opus';
  const original = readFileSync(`${FIXTURE_DIR}/${name}`);
  const recordingId = '7b0f6c1e-5d7a-4c86-9a0e-2f1d3c4b5a69';
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(`${FIXTURE_DIR}/${name}`, { highWaterMark: 999 }),
    createEncryptStream({ key, recordingId, segmentSize: S }),
    createObjectDecryptStream({ key, recordingId, plaintextSize: original.length }),
    new Writable({ write(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(); } }),
  );
  assert.equal(hash.digest('hex'), sha256(original));
});
