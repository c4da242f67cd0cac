import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { auditActor } from '../../src/audit/actor.js';
import { computePeaks, decodeAudio, type Peaks } from '../../src/audio/index.js';
import { rewrapDataKeys, rotateMasterKey } from '../../src/keys/rotation.js';
import { peaksObjectKey } from '../../src/peaks/object.js';
import { PeaksService } from '../../src/peaks/service.js';
import { runOrphanSweep } from '../../src/retention/orphans.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import { FIXTURE_FILES, fixturePath, type FixtureName } from '../helpers/fixtures.js';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, putPolicy, row, upload } from '../retention/support.js';

const FORMATS: Readonly<Record<FixtureName, { type: string; channels: number; sampleRate: number }>> = {
  'call-ulaw-8k-mono.wav': { type: 'audio/wav', channels: 1, sampleRate: 8000 },
  'call-pcm16-8k-stereo.wav': { type: 'audio/wav', channels: 2, sampleRate: 8000 },
  'call-8k-mono.mp3': { type: 'audio/mpeg', channels: 1, sampleRate: 8000 },
  'call-16k-mono.opus': { type: 'audio/ogg; codecs=opus', channels: 1, sampleRate: 16000 },
  'call-pcm16-8k-stereo.flac': { type: 'audio/flac', channels: 2, sampleRate: 8000 },
  'call-16k-mono-vorbis.ogg': { type: 'audio/ogg; codecs=vorbis', channels: 1, sampleRate: 16000 },
  'call-16k-mono.webm': { type: 'audio/webm', channels: 1, sampleRate: 16000 },
};

async function decodes(vault: TestVault): Promise<number> {
  const metric = await vault.deps.metrics.peaksDecoded.get();
  return metric.values.filter((v) => v.labels.outcome === 'ok').reduce((n, v) => n + v.value, 0);
}

async function storedObject(vault: TestVault, tenant: string, id: string): Promise<Buffer | null> {
  if (!await vault.deps.store.head(peaksObjectKey(tenant, id))) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of await vault.deps.store.get(peaksObjectKey(tenant, id))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir` that holds `needle`. */
async function filesHolding(dir: string, needle: Buffer): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await readFile(file)).includes(needle)) hits.push(file);
  }
  return hits;
}

for (const storage of ['fs', 's3'] as const) {
  describe(`GET /v1/recordings/{id}/peaks with ${storage} storage`, () => {
    let vault: TestVault;
    let supervisor: string;
    const ids = new Map<FixtureName, string>();
    before(async () => {
      vault = await startVault({ storage });
      supervisor = await vault.token('supervisor', { sub: 'sup-1' });
      for (const fixture of FIXTURE_FILES) {
        ids.set(fixture, (await upload(vault, `peaks-${fixture}`, { fixture, query: { agentId: 'agent-7' } })).id);
      }
    });
    after(async () => { await vault.close(); });

    for (const fixture of FIXTURE_FILES) {
      test(`${fixture}: the peaks of what the vault stored, one lane per channel`, async () => {
        const id = ids.get(fixture) ?? '';
        const res = await json(vault, 'GET', `/v1/recordings/${id}/peaks`, supervisor);
        assert.equal(res.status, 200, res.body.toString());
        assert.equal(res.headers['cache-control'], 'no-store');
        const peaks = res.json<Peaks>();
        const format = FORMATS[fixture];
        assert.equal(peaks.channels, format.channels);
        assert.equal(peaks.peaks.length, format.channels);
        assert.equal(peaks.sampleRate, format.sampleRate);
        assert.equal(peaks.bucketMs, 10, 'an 18 s call keeps 10 ms buckets');
        assert.ok(Math.abs(peaks.durationMs - 17_640) < 200, `durationMs ${peaks.durationMs}`);
        for (const lane of peaks.peaks) {
          assert.equal(lane.length, 2 * Math.ceil(peaks.durationMs / peaks.bucketMs));
          for (let j = 0; j < lane.length; j += 2) assert.ok((lane[j] ?? 1) <= (lane[j + 1] ?? -1));
          assert.ok(Math.max(...lane) > 0.2, 'speech is visible');
        }
        // The same peaks as decoding the original file here: the server decrypted exactly what was uploaded.
        const local = await computePeaks(decodeAudio(createReadStream(fixturePath(fixture)), format.type));
        assert.deepEqual(peaks, local);
      });
    }

    test('stereo keeps agent and customer apart; the min/max are those of the raw samples', async () => {
      const peaks = (await json(vault, 'GET', `/v1/recordings/${ids.get('call-pcm16-8k-stereo.wav')}/peaks`, supervisor)).json<Peaks>();
      const [agent = [], customer = []] = peaks.peaks;
      assert.ok(agent.filter((v, i) => v !== customer[i]).length > agent.length / 2);
      const wav = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
      const data = wav.indexOf('data') + 8;
      for (const bucket of [0, 500, 1000, 1500]) {
        for (const channel of [0, 1]) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let f = bucket * 80; f < (bucket + 1) * 80; f++) {
            const v = wav.readInt16LE(data + f * 4 + channel * 2) / 32768;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
          const lane = peaks.peaks[channel] ?? [];
          assert.ok(Math.abs((lane[2 * bucket] ?? 9) - lo) < 1e-4 && Math.abs((lane[2 * bucket + 1] ?? 9) - hi) < 1e-4, `bucket ${bucket} channel ${channel}`);
        }
      }
    });

    test('the cached peaks are ciphertext: nothing of them is stored in plain text', async () => {
      const id = ids.get('call-pcm16-8k-stereo.wav') ?? '';
      const res = await json(vault, 'GET', `/v1/recordings/${id}/peaks`, supervisor);
      const object = await storedObject(vault, 'acme', id);
      assert.ok(object);
      assert.equal(object.subarray(0, 4).toString('latin1'), 'CVLT');
      const body = res.body.toString('utf8');
      const lane = JSON.stringify(res.json<Peaks>().peaks[1]?.slice(400, 416));
      for (const needle of ['"bucketMs"', '"peaks"', body.slice(0, 48), lane.slice(1, -1)]) {
        assert.equal(object.includes(needle), false, needle);
        const roots = [vault.dataDir, ...(vault.s3 ? [vault.s3.directory] : [])];
        for (const root of roots) assert.deepEqual(await filesHolding(root, Buffer.from(needle)), [], `${needle} under ${root}`);
      }
    });

    test('a second view reads the cache: no second decode, the object is not rewritten', async () => {
      const r = await upload(vault, 'peaks-cache', { fixture: 'call-8k-mono.mp3' });
      const before = await decodes(vault);
      const first = await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      assert.equal(await decodes(vault), before + 1);
      const object = await storedObject(vault, 'acme', r.id);
      const second = await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, await vault.token('compliance'));
      assert.equal(second.status, 200);
      assert.equal(await decodes(vault), before + 1, 'no second decode');
      assert.deepEqual(second.json(), first.json());
      assert.deepEqual(await storedObject(vault, 'acme', r.id), object);
      const events = await auditEvents(vault, { action: 'media.peaks', recordingId: r.id });
      assert.deepEqual(events.map((e) => [e.actor_sub, e.actor_role, e.tenant, e.details.cached]), [
        ['sup-1', 'supervisor', 'acme', false], ['compliance-1', 'compliance', 'acme', true],
      ]);
      assert.equal(events[0]?.details.channels, 1);
      assert.equal(events[0]?.details.bucketMs, 10);
    });

    test('concurrent first views share one decode', async () => {
      const r = await upload(vault, 'peaks-concurrent', { fixture: 'call-16k-mono.opus' });
      const before = await decodes(vault);
      const answers = await Promise.all([1, 2, 3].map(() => request(vault, { path: `/v1/recordings/${r.id}/peaks`, token: supervisor })));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
      assert.equal(await decodes(vault), before + 1);
      assert.equal((await auditEvents(vault, { action: 'media.peaks', recordingId: r.id })).length, 3, 'each view is audited');
    });

    test('peaks of another version of the recording are never served', async () => {
      const r = await upload(vault, 'peaks-version', { fixture: 'call-ulaw-8k-mono.wav' });
      await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      const stale = await storedObject(vault, 'acme', r.id);
      // A new version (as a redaction makes) changes the sha256 the peaks object is bound to.
      await vault.deps.db('recordings').where({ id: r.id }).update({ sha256: 'f'.repeat(64) });
      const before = await decodes(vault);
      assert.equal((await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor)).status, 200);
      assert.equal(await decodes(vault), before + 1, 'computed again');
      assert.notDeepEqual(await storedObject(vault, 'acme', r.id), stale);
    });

    test('master key rotation and rewrap keep the cached peaks: they follow the recording\'s data key', async () => {
      const r = await upload(vault, 'peaks-rotation', { fixture: 'call-8k-mono.mp3' });
      await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      const before = (await row(vault, r.id)).key_ref;
      await rotateMasterKey(vault.deps, auditActor('cli:test'));
      await rewrapDataKeys(vault.deps, auditActor('cli:test'));
      assert.notEqual((await row(vault, r.id)).key_ref, before);
      vault.deps.keyCache.clear();
      const decoded = await decodes(vault);
      assert.equal((await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor)).status, 200);
      assert.equal(await decodes(vault), decoded, 'read from the cache under the rewrapped key');
      const events = await auditEvents(vault, { action: 'media.peaks', recordingId: r.id });
      assert.deepEqual(events.map((e) => e.details.cached), [false, true]);
    });

    test('404 across tenants, outside the agent scope and for unknown ids; 403 without recording:view', async () => {
      const id = ids.get('call-ulaw-8k-mono.wav') ?? '';
      const cases: Array<[string, string]> = [
        [await vault.token('supervisor', { tenant: 'globex' }), id],
        [await vault.token('compliance', { tenant: 'globex' }), id],
        [await vault.token('agent', { sub: 'agent-8' }), id],
        [supervisor, '00000000-0000-4000-8000-000000000000'],
        [supervisor, 'not-a-uuid'],
      ];
      for (const [token, target] of cases) {
        const res = await json(vault, 'GET', `/v1/recordings/${target}/peaks`, token);
        assert.equal(res.status, 404);
        assert.equal(res.json().code, 'not_found');
      }
      assert.equal((await json(vault, 'GET', `/v1/recordings/${id}/peaks`, await vault.token('agent', { sub: 'agent-7' }))).status, 200);
      for (const role of ['pbx', 'admin'] as const) {
        assert.equal((await json(vault, 'GET', `/v1/recordings/${id}/peaks`, await vault.token(role))).status, 403, role);
      }
      const allowed = await auditEvents(vault, { action: 'media.peaks', recordingId: id });
      assert.ok(allowed.every((e) => e.tenant === 'acme' && e.actor_sub !== 'agent-8'));
    });

    test('a stored format the decoders do not read answers 422 audio_undecodable', async () => {
      const flac = Buffer.concat([Buffer.from('fLaC', 'latin1'), Buffer.alloc(4000, 7)]);
      const r = await upload(vault, 'peaks-flac', { body: flac });
      const res = await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      assert.equal(res.status, 422);
      assert.equal(res.json().code, 'audio_undecodable');
      assert.equal(await storedObject(vault, 'acme', r.id), null);
    });

    test('retention deletes the peaks with the recording', async () => {
      await putPolicy(vault, 'short', 'PT1S');
      const r = await upload(vault, 'peaks-retention', { fixture: 'call-16k-mono.opus', query: { policy: 'short' } });
      await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      assert.ok(await storedObject(vault, 'acme', r.id));
      const pass = await runRetentionPass(vault.deps, new Date(Date.now() + 60_000));
      assert.ok(pass.ids.includes(r.id));
      assert.equal(await storedObject(vault, 'acme', r.id), null);
      assert.equal((await row(vault, r.id)).status, 'deleted');
    });

    test('peaks whose recording was deleted while they were computed are removed right after the write', async () => {
      const r = await upload(vault, 'peaks-raced', { fixture: 'call-ulaw-8k-mono.wav' });
      const recording = await vault.deps.recordings.findActive('acme', r.id);
      assert.ok(recording);
      const store = vault.deps.store;
      // The deletion finishes while the peaks are being written.
      const racing = {
        get: store.get.bind(store), delete: store.delete.bind(store),
        put: async (...args: Parameters<typeof store.put>) => {
          const done = await store.put(...args);
          await vault.deps.db('recordings').where({ id: r.id }).update({ status: 'deleted' });
          return done;
        },
      };
      const service = new PeaksService({ ...vault.deps, store: racing });
      const { cached, peaks } = await service.get(recording);
      assert.deepEqual([cached, peaks.channels], [false, 1]);
      assert.equal(await storedObject(vault, 'acme', r.id), null);
    });

    test('the peaks are deleted with the recording; late ones are swept as orphans', async () => {
      const r = await upload(vault, 'peaks-erased', { fixture: 'call-pcm16-8k-stereo.wav' });
      const kept = await upload(vault, 'peaks-kept');
      await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, supervisor);
      await json(vault, 'GET', `/v1/recordings/${kept.id}/peaks`, supervisor);
      const sealed = await storedObject(vault, 'acme', r.id);
      assert.ok(sealed);
      assert.equal((await json(vault, 'DELETE', `/v1/recordings/${r.id}`, await vault.token('compliance'), { reason: 'DSAR' })).status, 204);
      assert.equal(await storedObject(vault, 'acme', r.id), null);
      assert.equal((await row(vault, r.id)).status, 'deleted');

      // A first view that was still computing when the recording went writes its peaks afterwards.
      await vault.deps.store.put(peaksObjectKey('acme', r.id), sealed);
      const later = new Date(Date.now() + 3_600_000);
      const sweep = await runOrphanSweep(vault.deps, later, { graceMs: 60_000 });
      assert.ok(sweep.keys.includes(peaksObjectKey('acme', r.id)));
      assert.equal(await storedObject(vault, 'acme', r.id), null);
      assert.ok(await storedObject(vault, 'acme', kept.id), 'the peaks of a live recording stay');
      const swept = await auditEvents(vault, { action: 'orphan.deleted', recordingId: r.id });
      assert.equal(swept.length, 1);
      assert.equal(swept[0]?.details.objectKey, peaksObjectKey('acme', r.id));
    });
  });
}

describe('peaks with data keys from KMS', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault({ keys: 'aws-kms', storage: 's3' }); });
  after(async () => { await vault.close(); });

  test('computed under the KMS-unwrapped data key, then read back from the cache', async () => {
    const r = await upload(vault, 'peaks-kms', { fixture: 'call-pcm16-8k-stereo.wav' });
    const token = await vault.token('supervisor');
    const first = await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, token);
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(first.json<Peaks>().channels, 2);
    vault.deps.keyCache.clear();
    const second = await json(vault, 'GET', `/v1/recordings/${r.id}/peaks`, token);
    assert.deepEqual(second.json(), first.json());
    const events = await auditEvents(vault, { action: 'media.peaks', recordingId: r.id });
    assert.deepEqual(events.map((e) => e.details.cached), [false, true]);
  });
});
