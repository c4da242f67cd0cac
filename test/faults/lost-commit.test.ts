import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { multipartUpload } from '../helpers/http.js';
import { clusterInfo } from '../helpers/cluster.js';
import { startPgFaultProxy, type PgFaultProxy } from '../helpers/pg-fault-proxy.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { assertPlays, assertUnavailable, fixture, objectKeys, send, sha256, waitReady, type Receipt } from './support.js';

/**
 * The connection to PostgreSQL dies during the upload's COMMIT. When the server had committed
 * and only its reply was lost, the recording exists: the upload must say so (201) or at worst
 * answer 503 while keeping the object, never delete what a committed row refers to. When COMMIT
 * never reached the server, nothing exists and nothing is kept. Every case ends with the PBX's
 * retry getting the truth and the recording playing byte for byte.
 */
const RECORDING_INSERT = /insert into "recordings"/i;

describe('the reply to an upload\'s COMMIT is lost', () => {
  let proxy: PgFaultProxy;
  let vault: TestVault;
  let pbx: string;
  let sup: string;

  before(async () => {
    proxy = await startPgFaultProxy({ host: '127.0.0.1', port: clusterInfo().port });
    // The outcome is looked up for 3 x DATABASE_CONNECT_TIMEOUT_MS: 1.5 s here.
    vault = await startVault({ databaseUrl: (url) => proxy.proxied(url), env: { DATABASE_CONNECT_TIMEOUT_MS: '500' } });
    pbx = await vault.token('pbx');
    sup = await vault.token('supervisor');
  });
  after(async () => {
    await vault?.close();
    await proxy?.close();
  });

  const put = (callId: string, body: Buffer) => send(vault, {
    method: 'PUT', path: `/v1/recordings/${callId}`, token: pbx, body, headers: { 'content-type': 'audio/wav' },
  });

  const createdEvents = (id: string): Promise<unknown[]> =>
    vault.deps.db('audit_events').where({ action: 'recording.uploaded', recording_id: id }).whereRaw(`details->>'created' = 'true'`);

  test('committed, reply lost: 201 with the receipt, the retry 200 with the same id, and it plays', async () => {
    const body = await fixture('call-pcm16-8k-stereo.wav');
    const lost = proxy.loseCommit(RECORDING_INSERT, 'reply');
    const first = await put('lost-reply', body);
    assert.equal(await lost, 'committed', 'the server committed and its reply was dropped');
    assert.equal(first.status, 201, first.body.toString());
    const receipt = first.json<Receipt>();
    assert.equal(receipt.sha256, sha256(body));
    const retry = await put('lost-reply', body);
    assert.equal(retry.status, 200, retry.body.toString());
    assert.equal(retry.json<Receipt>().id, receipt.id);
    await assertPlays(vault, sup, receipt.id, receipt);
    assert.equal((await createdEvents(receipt.id)).length, 1, 'the upload event committed with the row, once');
  });

  test('committed, reply lost, then the database unreachable: 503 with the object kept; the retry is 200 and plays', async () => {
    const body = await fixture('call-ulaw-8k-mono.wav');
    const lost = proxy.loseCommit(RECORDING_INSERT, 'reply', { refuseAfter: true });
    let answer;
    try {
      answer = await put('lost-reply-then-down', body);
      assert.equal(await lost, 'committed');
    } finally {
      proxy.refuse(false);
    }
    assertUnavailable('PUT', '/v1/recordings/lost-reply-then-down', answer, 'database_unavailable');
    await waitReady(vault);
    const row = await vault.deps.recordings.findByCallId('acme', 'lost-reply-then-down');
    assert.ok(row?.objectKey, 'the row was committed');
    assert.ok(await vault.deps.store.head(row.objectKey), 'its object was kept');
    const retry = await put('lost-reply-then-down', body);
    assert.equal(retry.status, 200, retry.body.toString());
    assert.equal(retry.json<Receipt>().id, row.id);
    await assertPlays(vault, sup, row.id, { sha256: sha256(body), sizeBytes: body.length });
  });

  test('COMMIT never reached the server: 503, no row and no object; the retry is 201 and plays', async () => {
    const body = await fixture('call-8k-mono.mp3');
    const objects = await objectKeys(vault.deps.store);
    const lost = proxy.loseCommit(RECORDING_INSERT, 'request');
    const answer = await put('lost-request', body);
    assert.equal(await lost, 'not sent');
    assertUnavailable('PUT', '/v1/recordings/lost-request', answer, 'database_unavailable');
    assert.equal(await vault.deps.recordings.findByCallId('acme', 'lost-request'), null);
    assert.deepEqual(await objectKeys(vault.deps.store), objects, 'the unreferenced object was discarded');
    const retry = await put('lost-request', body);
    assert.equal(retry.status, 201, retry.body.toString());
    await assertPlays(vault, sup, retry.json<Receipt>().id, retry.json<Receipt>());
  });

  test('multipart: committed, reply lost: 201, the retry 200 with the same id, and it plays', async () => {
    const body = await fixture('call-pcm16-8k-stereo.wav');
    const post = () => {
      const form = multipartUpload('lost-reply-form', body);
      return send(vault, { method: 'POST', path: '/v1/recordings', token: pbx, body: form.body, headers: { 'content-type': form.type } });
    };
    const lost = proxy.loseCommit(RECORDING_INSERT, 'reply');
    const first = await post();
    assert.equal(await lost, 'committed');
    assert.equal(first.status, 201, first.body.toString());
    const retry = await post();
    assert.equal(retry.status, 200, retry.body.toString());
    assert.equal(retry.json<Receipt>().id, first.json<Receipt>().id);
    await assertPlays(vault, sup, first.json<Receipt>().id, first.json<Receipt>());
  });
});
