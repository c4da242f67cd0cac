import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ByteRange } from '../../src/storage/types.js';
import { FIXTURE_FILES, fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, issueLink, play, upload, type IssuedLink, type Receipt } from './support.js';

const SEG = 65_536;
const HEADER = 16;
const TAG = 16;

/** Ranges at, inside and across 64 KiB segment boundaries, clipped to the recording. */
function rangesFor(size: number): Array<[number, number]> {
  const raw: Array<[number, number]> = [
    [0, 0], [0, 99], [1, 1], [100, 4_000],
    [SEG - 1, SEG - 1], [SEG, SEG], [SEG - 1, SEG], [SEG - 10, SEG + 10], [SEG, 2 * SEG - 1],
    [SEG + 1, 2 * SEG - 2], [2 * SEG - 5, 4 * SEG + 5], [3 * SEG, 3 * SEG + 99], [SEG / 2, 5 * SEG + 123],
    [size - 1, size - 1], [size - 100, size - 1], [Math.floor(size / 2), size - 1],
  ];
  return raw.filter(([a, b]) => a >= 0 && b < size && a <= b);
}

/** The ciphertext bytes a plaintext range needs: its segments, no more (see docs/format.md). */
function cipherSpan(size: number, a: number, b: number): ByteRange {
  const first = Math.floor(a / SEG);
  const last = Math.floor(b / SEG);
  const lastSize = Math.min(SEG, size - last * SEG);
  return { start: HEADER + first * (SEG + TAG), endInclusive: HEADER + last * (SEG + TAG) + lastSize + TAG - 1 };
}

for (const storage of ['fs', 's3'] as const) {
  describe(`range playback (${storage} storage)`, () => {
    let vault: TestVault;
    let sup: string;
    const files = new Map<string, { original: Buffer; receipt: Receipt; link: IssuedLink }>();
    const storeReads: Array<ByteRange | undefined> = [];

    before(async () => {
      vault = await startVault({ storage });
      sup = await vault.token('supervisor');
      const pbx = await vault.token('pbx');
      const names = storage === 'fs' ? FIXTURE_FILES : (['call-pcm16-8k-stereo.wav'] as const);
      for (const name of names) {
        const original = await readFile(fixturePath(name));
        const receipt = await upload(vault, pbx, name.replace(/\.\w+$/, ''), original);
        files.set(name, { original, receipt, link: await issueLink(vault, sup, receipt.id, { reason: 'range tests', ttlSeconds: 3600 }) });
      }
      const store = vault.deps.store;
      const get = store.get.bind(store);
      store.get = (key, range) => {
        storeReads.push(range);
        return get(key, range);
      };
    });
    after(async () => { await vault.close(); });

    for (const name of storage === 'fs' ? FIXTURE_FILES : (['call-pcm16-8k-stereo.wav'] as const)) {
      test(`${name}: every range equals the same slice of the original, reading only its segments`, async () => {
        const f = files.get(name);
        assert.ok(f);
        const size = f.original.length;
        for (const [a, b] of rangesFor(size)) {
          storeReads.length = 0;
          const res = await play(vault, f.link, { range: `bytes=${a}-${b}` });
          assert.equal(res.status, 206, `${a}-${b}`);
          assert.equal(res.headers['content-range'], `bytes ${a}-${b}/${size}`);
          assert.equal(res.headers['content-length'], String(b - a + 1));
          assert.ok(res.body.equals(f.original.subarray(a, b + 1)), `bytes ${a}-${b} differ`);
          assert.deepEqual(storeReads, [cipherSpan(size, a, b)], `ciphertext read for ${a}-${b}`);
        }
        const whole = await play(vault, f.link);
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(f.original));
      });
    }

    test('headers of a 206 and a 200', async () => {
      const f = files.get('call-pcm16-8k-stereo.wav');
      assert.ok(f);
      const sha = createHash('sha256').update(f.original).digest('hex');
      for (const res of [await play(vault, f.link, { range: 'bytes=10-19' }), await play(vault, f.link)]) {
        assert.equal(res.headers['content-type'], 'audio/wav');
        assert.equal(res.headers['accept-ranges'], 'bytes');
        assert.equal(res.headers.etag, `"${sha}"`);
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
        assert.equal(res.headers['content-disposition'], `inline; filename="${f.receipt.id}.wav"`);
      }
    });
  });
}

describe('Range header edge cases', () => {
  let vault: TestVault;
  let link: IssuedLink;
  let original: Buffer;
  let size: number;

  before(async () => {
    vault = await startVault();
    original = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
    size = original.length;
    const receipt = await upload(vault, await vault.token('pbx'), 'edges', original);
    link = await issueLink(vault, await vault.token('supervisor'), receipt.id, { reason: 'edge cases', ttlSeconds: 3600 });
  });
  after(async () => { await vault.close(); });

  test('open-ended and suffix ranges', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=500000-', 500_000, size - 1],
      ['bytes=-1000', size - 1000, size - 1],
      [`bytes=-${size + 50}`, 0, size - 1],
      [`bytes=100-${size + 1000}`, 100, size - 1],
      ['bytes=0-', 0, size - 1],
      ['BYTES = 7-9', 7, 9],
    ];
    for (const [header, a, b] of cases) {
      const res = await play(vault, link, { range: header });
      assert.equal(res.status, 206, header);
      assert.equal(res.headers['content-range'], `bytes ${a}-${b}/${size}`, header);
      assert.ok(res.body.equals(original.subarray(a, b + 1)), header);
    }
  });

  test('unsatisfiable ranges answer 416 with Content-Range: bytes */size and no audio', async () => {
    for (const header of [`bytes=${size}-`, `bytes=${size}-${size + 10}`, `bytes=${size + 1000}-`, 'bytes=-0', `bytes=${'9'.repeat(30)}-`]) {
      const res = await play(vault, link, { range: header });
      assert.equal(res.status, 416, header);
      assert.equal(res.headers['content-range'], `bytes */${size}`, header);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().code, 'range_not_satisfiable');
    }
  });

  test('malformed, foreign-unit and multi-range headers are ignored: 200 with the whole recording', async () => {
    for (const header of ['bytes=abc', 'bytes=5-2', 'items=0-10', 'bytes=', 'bytes=-', 'bytes=1-2-3', 'bytes=0-10,20-30', 'bytes=0-0,-1']) {
      const res = await play(vault, link, { range: header });
      assert.equal(res.status, 200, header);
      assert.equal(res.headers['content-range'], undefined);
      assert.ok(res.body.equals(original), header);
    }
  });

  test('If-Range: the current ETag keeps the range, anything else sends the whole recording', async () => {
    const head = await play(vault, link, {}, 'HEAD');
    const etag = String(head.headers.etag);
    assert.equal((await play(vault, link, { range: 'bytes=0-9', 'if-range': etag })).status, 206);
    const stale = await play(vault, link, { range: 'bytes=0-9', 'if-range': '"0000"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, size);
  });

  test('HEAD answers the headers of the GET, no body, and is audited as a HEAD of the range', async () => {
    const res = await play(vault, link, { range: 'bytes=65530-65545' }, 'HEAD');
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-length'], '16');
    assert.equal(res.headers['content-range'], `bytes 65530-65545/${size}`);
    assert.equal(res.body.length, 0);
    const [event] = await auditRows(vault, { action: 'media.read', request_id: String(res.headers['x-request-id']) });
    assert.deepEqual([event?.details.method, event?.details.range, event?.details.start, event?.details.end], ['HEAD', 'bytes=65530-65545', 65530, 65545]);
  });

  test('media.read carries the range requested, the link and who asked, never a byte count; bytesOut counts the bytes', async () => {
    const metricBefore = await bytesOut(vault);
    const res = await play(vault, link, { range: 'bytes=1000-2999', 'user-agent': 'browser/1' });
    assert.equal(res.status, 206);
    const [event] = await auditRows(vault, { action: 'media.read', request_id: String(res.headers['x-request-id']) });
    assert.ok(event);
    assert.equal(event.tenant, 'acme');
    assert.equal(event.actor_sub, `link:${link.linkId}`);
    assert.equal(event.link_id, link.linkId);
    assert.equal(event.ip, '127.0.0.1');
    assert.equal(event.user_agent, 'browser/1');
    assert.equal(event.outcome, 'allowed');
    assert.deepEqual([event.details.range, event.details.start, event.details.end, event.details.issuedBy], ['bytes=1000-2999', 1000, 2999, 'supervisor-1']);
    assert.equal(event.details.bytes, undefined, 'the audit log cannot know how many bytes the client received');
    assert.equal(await bytesOut(vault) - metricBefore, 2000);
  });
});

async function bytesOut(vault: TestVault): Promise<number> {
  const metric = await vault.deps.metrics.bytesOut.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}
