import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { openPlayback } from '../../src/media/playback.js';
import { FIXTURE_FILES, fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { request } from '../helpers/http.js';
import { element, oggOpusPackets, webmCluster, webmHead } from '../helpers/webm.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const storage of ['fs', 's3'] as const) {
  for (const keys of ['local', 'aws-kms'] as const) {
    describe(`ingest with ${storage} storage and ${keys} keys`, () => {
      let vault: TestVault;
      let pbx: string;
      before(async () => {
        vault = await startVault({ storage, keys });
        pbx = await vault.token('pbx');
      });
      after(async () => { await vault.close(); });

      for (const name of FIXTURE_FILES) {
        test(`${name} round-trips through the decrypt path`, async () => {
          const original = await readFile(fixturePath(name));
          const res = await request(vault, { method: 'PUT', path: `/v1/recordings/${name.replace(/-/g, '_')}`, body: original, token: pbx });
          assert.equal(res.status, 201, res.body.toString());
          const receipt = res.json<{ id: string; sha256: string; sizeBytes: number; contentType: string }>();
          assert.equal(receipt.sha256, sha(original));
          assert.equal(receipt.sizeBytes, original.length);
          assert.match(String(res.headers.location), new RegExp(`/v1/recordings/${receipt.id}$`));
          const recording = await vault.deps.recordings.findActive('acme', receipt.id);
          assert.ok(recording);
          const plain = await buffer(await openPlayback(vault.deps, recording));
          assert.equal(sha(plain), sha(original));
        });
      }
    });
  }
}

describe('ingest rules', () => {
  let vault: TestVault;
  let pbx: string;
  const wav = (): Promise<Buffer> => readFile(fixturePath('call-ulaw-8k-mono.wav'));
  before(async () => {
    vault = await startVault();
    pbx = await vault.token('pbx');
  });
  after(async () => { await vault.close(); });

  test('ciphertext at rest holds no 64-byte run of the recording', async () => {
    const original = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
    const res = await request(vault, { method: 'PUT', path: '/v1/recordings/at-rest-check', body: original, token: pbx });
    assert.equal(res.status, 201);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p); else files.push(p);
      }
    };
    await walk(path.join(vault.dataDir, 'objects'));
    assert.ok(files.length > 0);
    const probes = new Set<string>();
    for (let i = 0; i + 64 <= original.length; i += 997) probes.add(original.subarray(i, i + 64).toString('hex'));
    for (const f of files) {
      const bytes = (await readFile(f)).toString('hex');
      for (const p of probes) assert.ok(!bytes.includes(p), `plaintext run found in ${f}`);
    }
  });

  test('same callId and bytes answers 200 with the same receipt; different bytes 409', async () => {
    const body = await wav();
    const first = await request(vault, { method: 'PUT', path: '/v1/recordings/retry-1.wav', body, token: pbx });
    assert.equal(first.status, 201);
    const again = await request(vault, { method: 'PUT', path: '/v1/recordings/retry-1.wav', body, token: pbx });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), first.json());
    const other = await readFile(fixturePath('call-8k-mono.mp3'));
    const conflict = await request(vault, { method: 'PUT', path: '/v1/recordings/retry-1', body: other, token: pbx });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers['content-type'], 'application/problem+json; charset=utf-8');
  });

  test('digest mismatch answers 400 and keeps nothing; a matching digest is accepted', async () => {
    const body = await wav();
    const wrong = await request(vault, { method: 'PUT', path: '/v1/recordings/digest-1', body, token: pbx, headers: { 'x-checksum-sha256': '0'.repeat(64) } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json().code, 'digest_mismatch');
    assert.equal(await vault.deps.recordings.findByCallId('acme', 'digest-1'), null);
    const digest = createHash('sha256').update(body).digest('base64');
    const ok = await request(vault, { method: 'PUT', path: '/v1/recordings/digest-1', body, token: pbx, headers: { 'content-digest': `sha-256=:${digest}:` } });
    assert.equal(ok.status, 201);
  });

  test('empty body 400, non-audio 415, bad credentials 401, wrong role 403', async () => {
    const empty = await request(vault, { method: 'PUT', path: '/v1/recordings/empty-1', body: Buffer.alloc(0), token: pbx });
    assert.equal(empty.status, 400);
    assert.equal(empty.json().code, 'empty_body');
    const text = await request(vault, { method: 'PUT', path: '/v1/recordings/text-1', body: Buffer.from('hello world, this is not audio at all, really not'), token: pbx });
    assert.equal(text.status, 415);
    const anon = await request(vault, { method: 'PUT', path: '/v1/recordings/anon-1', body: await wav() });
    assert.equal(anon.status, 401);
    assert.ok(anon.json().requestId);
    const agent = await request(vault, { method: 'PUT', path: '/v1/recordings/agent-1', body: await wav(), token: await vault.token('agent') });
    assert.equal(agent.status, 403);
  });

  test('Ogg and WebM are stored with their codec when it decodes, refused with 415 naming the accepted codecs when not', async () => {
    const opus = await readFile(fixturePath('call-16k-mono.opus'));
    const { head, packets } = oggOpusPackets(opus);
    const speex = Buffer.from(opus);
    speex.write('Speex   ', 28, 'latin1');
    const oggFlac = Buffer.from(opus);
    oggFlac.write('\x7fFLAC\x01\x00\x00', 28, 'latin1');
    const refused = {
      'webm-vorbis': Buffer.concat([webmHead('A_VORBIS', Buffer.alloc(3000, 2)), webmCluster(0, packets.slice(0, 50))]),
      'webm-no-tracks': Buffer.concat([webmHead('A_OPUS', head).subarray(0, 52), element(0xec, Buffer.alloc(70_000))]),
      'ogg-speex': speex,
      'ogg-flac': oggFlac,
    };
    for (const [callId, body] of Object.entries(refused)) {
      const res = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}`, body, token: pbx, headers: { 'content-type': 'audio/webm' } });
      assert.equal(res.status, 415, callId);
      assert.equal(res.json().code, 'unsupported_media_type');
      assert.match(String(res.json().detail), /accepted: WAV, MP3, FLAC, Ogg with Opus or Vorbis, WebM with Opus/, callId);
      assert.equal(await vault.deps.recordings.findByCallId('acme', callId), null, callId);
    }
    assert.match(String((await request(vault, { method: 'PUT', path: '/v1/recordings/webm-vorbis', body: refused['webm-vorbis'], token: pbx })).json().detail), /A_VORBIS/);
    const accepted = {
      'webm-live': [Buffer.concat([webmHead('A_OPUS', head), webmCluster(0, packets)]), 'audio/webm'],
      'ogg-vorbis': [await readFile(fixturePath('call-16k-mono-vorbis.ogg')), 'audio/ogg; codecs=vorbis'],
      'flac': [await readFile(fixturePath('call-pcm16-8k-stereo.flac')), 'audio/flac'],
    } as const;
    for (const [callId, [body, type]] of Object.entries(accepted)) {
      const res = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}`, body, token: pbx });
      assert.equal(res.status, 201, `${callId}: ${res.body.toString()}`);
      assert.equal(res.json().contentType, type, callId);
    }
  });

  test('multipart upload with any file field name and metadata fields', async () => {
    const body = await wav();
    const boundary = 'cvboundary123';
    const parts = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="recorded_file"; filename="x.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
      body,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="callId"\r\n\r\nmp-1\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="direction"\r\n\r\ninbound\r\n--${boundary}--\r\n`),
    ]);
    const res = await request(vault, { method: 'POST', path: '/v1/recordings', body: parts, token: pbx, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    assert.equal(res.status, 201, res.body.toString());
    const rec = await vault.deps.recordings.findByCallId('acme', 'mp-1');
    assert.equal(rec?.direction, 'inbound');
    assert.equal(rec?.sha256, sha(body));
  });

  test('body above MAX_RECORDING_BYTES answers 413 and keeps nothing', async () => {
    const small = await startVault({ env: { MAX_RECORDING_BYTES: '100000' } });
    try {
      const token = await small.token('pbx');
      const res = await request(small, { method: 'PUT', path: '/v1/recordings/big-1', body: await wav(), token });
      assert.equal(res.status, 413);
      const chunked = await request(small, { method: 'PUT', path: '/v1/recordings/big-2', body: Readable.from([await wav()]), token });
      assert.equal(chunked.status, 413);
      assert.equal(await small.deps.recordings.findByCallId('acme', 'big-2'), null);
    } finally {
      await small.close();
    }
  });
});
