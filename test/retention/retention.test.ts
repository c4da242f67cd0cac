import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { openPlayback } from '../../src/media/playback.js';
import { request } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { auditEvents, json, makeDue, putPolicy, row, runCli, upload } from './support.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const storage of ['fs', 's3'] as const) {
  describe(`retention run --once with ${storage} storage`, () => {
    let vault: TestVault;
    before(async () => {
      vault = await startVault({ storage });
      await putPolicy(vault, 'short', 'PT2S');
    });
    after(async () => { await vault.close(); });

    test('a PT2S recording is gone once its retention has run out; a held one with the same policy is untouched', async () => {
      const doomed = await upload(vault, `doomed-${storage}`, { query: { policy: 'short', from: '+14155550100' } });
      const held = await upload(vault, `held-${storage}`, { query: { policy: 'short' }, fixture: 'call-8k-mono.mp3' });
      const keeper = await upload(vault, `keeper-${storage}`);
      assert.equal(doomed.policy, 'short');
      assert.ok(Date.parse(doomed.retainUntil) - Date.now() <= 2_000);
      const compliance = await vault.token('compliance');
      const hold = await json(vault, 'PUT', `/v1/recordings/${held.id}/legal-hold`, compliance, { reason: 'litigation', caseId: 'C-7' });
      assert.equal(hold.status, 200, hold.body.toString());
      const link = await json(vault, 'POST', `/v1/recordings/${doomed.id}/links`, await vault.token('supervisor'), { reason: 'quality review' });
      assert.equal(link.status, 201, link.body.toString());
      const mediaPath = new URL(link.json<{ url: string }>().url).pathname;
      assert.equal((await request(vault, { path: mediaPath })).status, 200);
      const doomedKey = (await row(vault, doomed.id)).object_key;
      assert.ok(doomedKey && (await vault.deps.store.head(doomedKey)));

      await makeDue(vault, doomed.id, held.id);
      const dry = await runCli(vault, ['retention', 'run', '--once', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`^${doomed.id}\\t${doomed.callId}\\t`, 'm'));
      assert.doesNotMatch(dry.stdout, new RegExp(`${held.id}|${keeper.id}`));
      assert.equal((await row(vault, doomed.id)).status, 'active', 'a dry run changes nothing');

      const run = await runCli(vault, ['retention', 'run', '--once']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /deleted 1 recording\(s\); 1 due recording\(s\) kept on legal hold/);

      assert.equal(await vault.deps.store.head(doomedKey), null, 'object deleted');
      const tomb = await row(vault, doomed.id);
      assert.equal(tomb.status, 'deleted');
      assert.equal(tomb.deletion_reason, 'retention');
      assert.ok(tomb.deleted_at);
      for (const gone of ['wrapped_key', 'key_ref', 'crypto_header', 'object_key', 'from_number', 'from_hash', 'retain_until'] as const) {
        assert.equal(tomb[gone], null, `${gone} cleared`);
      }
      assert.equal(tomb.sha256, doomed.sha256);
      assert.equal(tomb.call_id, doomed.callId);
      assert.equal((await request(vault, { path: mediaPath })).status, 403, 'the link answers 403');
      const links = await vault.deps.db('links').where({ recording_id: doomed.id }).first<{ revoked_at: Date | null }>();
      assert.ok(links?.revoked_at, 'the link is revoked');

      const events = await auditEvents(vault, { action: 'recording.deleted', recordingId: doomed.id });
      assert.equal(events.length, 1);
      assert.equal(events[0]?.actor_sub, 'system:retention');
      assert.equal(events[0]?.details.reason, 'retention');
      assert.equal(events[0]?.details.callId, doomed.callId);

      const kept = await row(vault, held.id);
      assert.equal(kept.status, 'active');
      assert.ok(kept.wrapped_key && kept.object_key && (await vault.deps.store.head(kept.object_key)));
      const recording = await vault.deps.recordings.findActive('acme', held.id);
      assert.ok(recording);
      const original = await readFile(fixturePath('call-8k-mono.mp3'));
      assert.equal(sha(await buffer(await openPlayback(vault.deps, recording))), sha(original), 'the held recording still plays');
      assert.equal((await row(vault, keeper.id)).status, 'active');
      assert.deepEqual(await auditEvents(vault, { action: 'recording.deleted', recordingId: held.id }), []);
    });
  });
}
