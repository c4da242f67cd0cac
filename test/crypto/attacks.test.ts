import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  HEADER_BYTES, TAG_BYTES, createDecryptStream, createObjectDecryptStream,
} from '../../src/crypto/index.js';
import { IntegrityError } from '../../src/errors.js';
import { FIXTURE_DIR, chunked, openObject, openRange, runThrough, seal, sealFile, type Sealed } from './support.js';

const S = 4096;
const NAME = 'call-8k-mono.mp3';
const plaintext = readFileSync(`${FIXTURE_DIR}/${NAME}`);
const P = plaintext.length;
const N = Math.ceil(P / S);

const segStart = (i: number): number => HEADER_BYTES + i * (S + TAG_BYTES);
const segEnd = (i: number): number => (i === N - 1 ? HEADER_BYTES + P + N * TAG_BYTES : segStart(i + 1));
const segment = (object: Buffer, i: number): Buffer => object.subarray(segStart(i), segEnd(i));

async function rejectsIntegrity(work: Promise<unknown>, label = ''): Promise<void> {
  await assert.rejects(work, IntegrityError, label);
}

let sealed: Sealed;
const open = (object: Buffer, opts: Partial<{ key: Buffer; recordingId: string; plaintextSize: number }> = {}): Promise<Buffer> =>
  openObject(object, { key: sealed.key, recordingId: sealed.recordingId, plaintextSize: P, ...opts }, [1500]);

before(async () => {
  sealed = await sealFile(NAME, S);
  assert.ok(N >= 10 && P % S !== 0, 'fixture spans many segments and ends in a short one');
  assert.deepEqual(await open(sealed.object), plaintext, 'untampered object opens');
});

describe('truncation and extension', () => {
  test('dropping the final segment fails, whatever size the reader is told', async () => {
    const cut = sealed.object.subarray(0, segStart(N - 1));
    await rejectsIntegrity(open(cut));
    await rejectsIntegrity(open(cut, { plaintextSize: (N - 1) * S }), 'earlier segment is not marked final');
  });

  test('dropping bytes inside the last segment fails', async () => {
    const o = sealed.object;
    const last = segStart(N - 1);
    await rejectsIntegrity(open(o.subarray(0, o.length - 1)));
    await rejectsIntegrity(open(o.subarray(0, o.length - TAG_BYTES)));
    await rejectsIntegrity(open(o.subarray(0, last + 100)));
    const innerCut = Buffer.concat([o.subarray(0, last + 10), o.subarray(last + 11)]);
    await rejectsIntegrity(open(innerCut));
    await rejectsIntegrity(open(innerCut, { plaintextSize: P - 1 }));
  });

  test('an empty or header-only object fails', async () => {
    await rejectsIntegrity(open(Buffer.alloc(0)));
    await rejectsIntegrity(open(sealed.object.subarray(0, 9)));
    await rejectsIntegrity(open(sealed.object.subarray(0, HEADER_BYTES)));
  });

  test('appending a segment or stray bytes fails', async () => {
    const o = sealed.object;
    await rejectsIntegrity(open(Buffer.concat([o, segment(o, 0)])));
    await rejectsIntegrity(open(Buffer.concat([o, segment(o, N - 1)])));
    await rejectsIntegrity(open(Buffer.concat([o, Buffer.from([0])])));
    await rejectsIntegrity(open(Buffer.concat([o, segment(o, N - 1)]), { plaintextSize: P + (P - (N - 1) * S) }));
  });

  test('a range read whose input ends early or runs long fails', async () => {
    const header = sealed.object.subarray(0, HEADER_BYTES);
    const read = (input: Buffer, start: number, endInclusive: number) => runThrough(
      createDecryptStream({ key: sealed.key, recordingId: sealed.recordingId, header, plaintextSize: P, start, endInclusive }),
      chunked(input, [777]),
    );
    const twoSegs = sealed.object.subarray(segStart(2), segEnd(3));
    assert.equal((await read(twoSegs, 2 * S, 4 * S - 1)).error, null, 'exact input opens');
    for (const input of [twoSegs.subarray(0, twoSegs.length - 1), segment(sealed.object, 2), Buffer.alloc(0)]) {
      assert.ok((await read(input, 2 * S, 4 * S - 1)).error instanceof IntegrityError);
    }
    assert.ok((await read(Buffer.concat([twoSegs, Buffer.from([1])]), 2 * S, 4 * S - 1)).error instanceof IntegrityError);
  });
});

describe('reordering and substitution', () => {
  const rebuild = (order: number[]): Buffer =>
    Buffer.concat([sealed.object.subarray(0, HEADER_BYTES), ...order.map((i) => segment(sealed.object, i))]);
  const identity = (): number[] => Array.from({ length: N }, (_, i) => i);

  test('rebuilding in order opens, so the checks below exercise the reordering itself', async () => {
    assert.deepEqual(await open(rebuild(identity())), plaintext);
  });

  test('swapped, rotated or duplicated segments fail', async () => {
    const swap = (a: number, b: number): number[] => { const o = identity(); [o[a], o[b]] = [o[b] ?? 0, o[a] ?? 0]; return o; };
    await rejectsIntegrity(open(rebuild(swap(1, 2))), 'swap 1,2');
    await rejectsIntegrity(open(rebuild(swap(0, N - 2))), 'swap first and second-to-last');
    await rejectsIntegrity(open(rebuild(swap(N - 2, N - 1))), 'swap last two');
    await rejectsIntegrity(open(rebuild([...identity().slice(1, N - 1), 0, N - 1])), 'rotate');
    const dup = identity();
    dup[1] = 0;
    await rejectsIntegrity(open(rebuild(dup)), 'duplicate segment 0');
  });

  test('a range read fed the wrong segment fails', async () => {
    const header = sealed.object.subarray(0, HEADER_BYTES);
    const stream = createDecryptStream({ key: sealed.key, recordingId: sealed.recordingId, header, plaintextSize: P, start: 3 * S, endInclusive: 3 * S + 10 });
    const { error } = await runThrough(stream, [segment(sealed.object, 4)]);
    assert.ok(error instanceof IntegrityError);
  });

  test('an object opened under another recording id fails', async () => {
    await rejectsIntegrity(open(sealed.object, { recordingId: 'rec-0002' }));
    await rejectsIntegrity(open(sealed.object, { recordingId: `${sealed.recordingId} ` }));
    await assert.rejects(openRange({ ...sealed, recordingId: 'rec-0002' }, P, 10, 20), IntegrityError);
  });

  test('segments or objects from another encryption under the same key and id fail', async () => {
    const other = await seal(plaintext, { key: sealed.key, recordingId: sealed.recordingId, segmentSize: S });
    assert.deepEqual(await open(other.object), plaintext);
    const spliced = Buffer.concat([sealed.object.subarray(0, segStart(3)), segment(other.object, 3), sealed.object.subarray(segEnd(3))]);
    await rejectsIntegrity(open(spliced));
    const otherHeader = Buffer.concat([other.object.subarray(0, HEADER_BYTES), sealed.object.subarray(HEADER_BYTES)]);
    await rejectsIntegrity(open(otherHeader));
  });

  test('the wrong key fails', async () => {
    await rejectsIntegrity(open(sealed.object, { key: randomBytes(32) }));
    const nearKey = Buffer.from(sealed.key);
    nearKey[31] = (nearKey[31] ?? 0) ^ 1;
    await rejectsIntegrity(open(sealed.object, { key: nearKey }));
  });
});

describe('bit flips', () => {
  test('flipping one bit anywhere fails: header, nonce prefix, bodies and tags', async () => {
    const positions = new Set<number>();
    for (let i = 0; i < HEADER_BYTES; i++) positions.add(i);
    for (let i = 0; i < sealed.object.length; i += 97) positions.add(i);
    for (let i = 0; i < TAG_BYTES; i++) {
      positions.add(segEnd(0) - 1 - i);
      positions.add(segEnd(N - 1) - 1 - i);
    }
    positions.add(segStart(N - 1));
    for (const pos of positions) {
      const tampered = Buffer.from(sealed.object);
      tampered[pos] = (tampered[pos] ?? 0) ^ (1 << (pos % 8));
      await rejectsIntegrity(open(tampered), `bit flip at byte ${pos}`);
    }
    assert.ok(positions.size > 700);
  });

  test('no plaintext of a tampered segment is released', async () => {
    const tampered = Buffer.from(sealed.object);
    const at = segStart(5) + 200;
    tampered[at] = (tampered[at] ?? 0) ^ 0x80;
    const { output, error } = await runThrough(
      createObjectDecryptStream({ key: sealed.key, recordingId: sealed.recordingId, plaintextSize: P }),
      chunked(tampered, [S + TAG_BYTES]),
    );
    assert.ok(error instanceof IntegrityError);
    assert.ok(output.length <= 5 * S, `released ${output.length} bytes`);
    assert.deepEqual(output, plaintext.subarray(0, output.length));
  });

  test('every header bit is authenticated, even where the segment size does not change the layout', async () => {
    const small = await seal(plaintext.subarray(0, 100), { segmentSize: S });
    const openSmall = (object: Buffer) =>
      openObject(object, { key: small.key, recordingId: small.recordingId, plaintextSize: 100 });
    assert.equal((await openSmall(small.object)).length, 100);
    for (let bit = 0; bit < HEADER_BYTES * 8; bit++) {
      const tampered = Buffer.from(small.object);
      tampered[bit >> 3] = (tampered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      await rejectsIntegrity(openSmall(tampered), `header bit ${bit}`);
    }
  });

  test('a header handed to the range stream is checked too', async () => {
    const base = { key: sealed.key, recordingId: sealed.recordingId, plaintextSize: P, start: 0, endInclusive: 99 };
    const badMagic = Buffer.from(sealed.header);
    badMagic[0] = 0;
    assert.throws(() => createDecryptStream({ ...base, header: badMagic }), IntegrityError);
    const badPrefix = Buffer.from(sealed.header);
    badPrefix[12] = (badPrefix[12] ?? 0) ^ 4;
    const { error } = await runThrough(createDecryptStream({ ...base, header: badPrefix }), [segment(sealed.object, 0)]);
    assert.ok(error instanceof IntegrityError);
  });
});

describe('empty recording', () => {
  test('its single tag authenticates the emptiness', async () => {
    const empty = await seal(Buffer.alloc(0), { segmentSize: S });
    const openEmpty = (object: Buffer, plaintextSize = 0) =>
      openObject(object, { key: empty.key, recordingId: empty.recordingId, plaintextSize });
    assert.equal(empty.object.length, HEADER_BYTES + TAG_BYTES);
    assert.equal((await openEmpty(empty.object)).length, 0);
    const flipped = Buffer.from(empty.object);
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    await rejectsIntegrity(openEmpty(flipped));
    await rejectsIntegrity(openEmpty(empty.object.subarray(0, HEADER_BYTES)));
    await rejectsIntegrity(openEmpty(Buffer.concat([empty.object, Buffer.from([0])])));
    await rejectsIntegrity(openEmpty(empty.object, 1));
    await rejectsIntegrity(openObject(empty.object, { key: empty.key, recordingId: 'other', plaintextSize: 0 }));
  });
});
