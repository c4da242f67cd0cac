/**
 * Conformance with docs/format.md, checked against a second, deliberately naive implementation of
 * the written spec (whole buffers, node:crypto directly), so the streams and the document can't
 * drift apart unnoticed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FIXTURE_DIR, openObject, openRange, seal } from './support.js';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function specHeader(segmentSize: number, noncePrefix: Buffer): Buffer {
  return Buffer.concat([Buffer.from('CVLT', 'ascii'), Buffer.from([1]), u32(segmentSize), noncePrefix]);
}

function specSegments(length: number, segmentSize: number): [number, number][] {
  const n = Math.max(1, Math.ceil(length / segmentSize));
  return Array.from({ length: n }, (_, i) => [i * segmentSize, Math.min(length, (i + 1) * segmentSize)]);
}

function specEncrypt(key: Buffer, recordingId: string, segmentSize: number, noncePrefix: Buffer, plaintext: Buffer): Buffer {
  const header = specHeader(segmentSize, noncePrefix);
  const aad = Buffer.concat([header, Buffer.from(recordingId, 'utf8')]);
  const segments = specSegments(plaintext.length, segmentSize);
  const out = [header];
  segments.forEach(([from, to], i) => {
    const nonce = Buffer.concat([noncePrefix, u32(i), Buffer.from([i === segments.length - 1 ? 1 : 0])]);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad);
    out.push(c.update(plaintext.subarray(from, to)), c.final(), c.getAuthTag());
  });
  return Buffer.concat(out);
}

function specDecrypt(key: Buffer, recordingId: string, object: Buffer, plaintextSize: number): Buffer {
  const header = object.subarray(0, 16);
  assert.equal(header.toString('ascii', 0, 4), 'CVLT');
  assert.equal(header[4], 1);
  const segmentSize = header.readUInt32BE(5);
  const aad = Buffer.concat([header, Buffer.from(recordingId, 'utf8')]);
  const segments = specSegments(plaintextSize, segmentSize);
  const out: Buffer[] = [];
  let off = 16;
  segments.forEach(([from, to], i) => {
    const nonce = Buffer.concat([header.subarray(9, 16), u32(i), Buffer.from([i === segments.length - 1 ? 1 : 0])]);
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(aad);
    const body = to - from;
    d.setAuthTag(object.subarray(off + body, off + body + 16));
    out.push(d.update(object.subarray(off, off + body)), d.final());
    off += body + 16;
  });
  assert.equal(off, object.length, 'object ends after the final segment');
  return Buffer.concat(out);
}

test('the known-answer vector in docs/format.md', async () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const noncePrefix = Buffer.from('a0a1a2a3a4a5a6', 'hex');
  const plaintext = Buffer.from('hello, vault', 'utf8');
  const expected = '43564c540100001000a0a1a2a3a4a5a6' + '1f042572d72ac0b66210b45bfeb8c5d8d54d3d57670e93edec2488e7';
  const object = specEncrypt(key, 'rec-1', 4096, noncePrefix, plaintext);
  assert.equal(object.toString('hex'), expected);
  assert.deepEqual(await openObject(Buffer.from(expected, 'hex'), { key, recordingId: 'rec-1', plaintextSize: plaintext.length }), plaintext);
});

test('objects written to the spec by hand open with the streams, whole and by range', async () => {
  const plaintext = readFileSync(`${FIXTURE_DIR}/call-ulaw-8k-mono.wav`);
  const key = randomBytes(32);
  const recordingId = 'f3a1c2d4-0000-4000-8000-00000000abcd';
  for (const segmentSize of [4096, 5000, 65536]) {
    const object = specEncrypt(key, recordingId, segmentSize, randomBytes(7), plaintext);
    const p = plaintext.length;
    assert.deepEqual(await openObject(object, { key, recordingId, plaintextSize: p }, [4001]), plaintext);
    const sealed = { object, key, recordingId, header: object.subarray(0, 16) };
    const end = Math.min(p - 1, 3 * segmentSize + 2);
    assert.deepEqual(await openRange(sealed, p, segmentSize - 3, end), plaintext.subarray(segmentSize - 3, end + 1));
  }
});

test('objects written by the stream open with the hand-written spec decoder', async () => {
  const key = randomBytes(32);
  for (const size of [0, 1, 4095, 4096, 4097, 3 * 4096 + 7]) {
    const plaintext = randomBytes(size);
    const sealed = await seal(plaintext, { key, recordingId: 'rec-ü-7', segmentSize: 4096, chunks: [333] });
    assert.deepEqual(specDecrypt(key, 'rec-ü-7', sealed.object, size), plaintext, `size ${size}`);
  }
});
