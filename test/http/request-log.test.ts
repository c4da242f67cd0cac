import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { auditRows, issueLink, mediaPath, SyntheticRecording, upload, type IssuedLink } from '../access/support.js';
import { request } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Every response reaches the request log and the HTTP metrics once, including the Range
 * responses a player cancels when it seeks.
 */
interface RequestLine { msg: string; requestId: string; status: number; bytes: number; aborted?: boolean; url: string }

describe('request log and HTTP metrics', () => {
  let vault: TestVault;
  let link: IssuedLink;
  const logLines: string[] = [];
  const recording = new SyntheticRecording(24 * 1024 * 1024);

  const requestLines = (requestId: string): RequestLine[] =>
    logLines.map((l) => JSON.parse(l) as RequestLine).filter((l) => l.msg === 'request' && l.requestId === requestId);
  /** The log line is written when the server sees the close, a moment after the client hangs up. */
  const lineFor = async (requestId: string): Promise<RequestLine> => {
    await waitFor(`a request log line for ${requestId}`, async () => requestLines(requestId).length > 0);
    const [line] = requestLines(requestId);
    assert.ok(line);
    return line;
  };
  const counter = async (name: 'httpAborted' | 'httpRequests', labels: Record<string, string>): Promise<number> => {
    const metric = await vault.deps.metrics[name].get();
    const matches = (l: Record<string, string | number | undefined>): boolean => Object.entries(labels).every(([k, x]) => l[k] === x);
    return metric.values.filter((v) => matches(v.labels)).reduce((s, v) => s + v.value, 0);
  };

  before(async () => {
    vault = await startVault({ logLines });
    const receipt = await upload(vault, await vault.token('pbx'), 'long-call', recording.body());
    link = await issueLink(vault, await vault.token('supervisor'), receipt.id, { reason: 'seek test', ttlSeconds: 3600 });
  });
  after(async () => { await vault.close(); });

  test('a Range response the client cuts short is logged and counted once, with the bytes sent and aborted: true', async () => {
    const labels = { route: '/media/:token', method: 'GET', status: '206' };
    const [abortedBefore, requestsBefore] = [await counter('httpAborted', labels), await counter('httpRequests', labels)];
    const requestId = `seek-${Date.now()}`;
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = https.get(new URL(mediaPath(link), vault.url), {
        ca: vault.ca, agent: false, headers: { range: 'bytes=100-', 'x-request-id': requestId, 'user-agent': 'seeking-player/1' },
      }, (res) => {
        assert.equal(res.statusCode, 206);
        res.once('data', (chunk: Buffer) => {
          received = chunk.length;
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') reject(err); });
    });
    const line = await lineFor(requestId);
    assert.equal(line.status, 206);
    assert.equal(line.aborted, true);
    assert.ok(line.bytes >= received, `bytes ${line.bytes} covers what the client read (${received})`);
    assert.ok(line.bytes < recording.size - 100, `bytes ${line.bytes} is what was sent, not what was asked for`);
    assert.equal(line.url, '/media/[redacted]');
    assert.equal(await counter('httpAborted', labels) - abortedBefore, 1);
    assert.equal(await counter('httpRequests', labels) - requestsBefore, 1);
    await sleep(100);
    assert.equal(requestLines(requestId).length, 1, 'one line, though both close and the end of the pipeline fire');
    const [read] = await auditRows(vault, { action: 'media.read', request_id: requestId });
    assert.deepEqual([read?.details.range, read?.details.start, read?.details.end], ['bytes=100-', 100, recording.size - 1]);
    assert.equal(read?.details.bytes, undefined);
  });

  test('a complete response is logged once with its body size and no aborted flag', async () => {
    const requestId = `whole-${Date.now()}`;
    const res = await request(vault, { path: mediaPath(link), headers: { range: 'bytes=0-9999', 'x-request-id': requestId } });
    assert.equal(res.status, 206);
    const line = await lineFor(requestId);
    assert.equal(line.bytes, 10_000);
    assert.equal(line.aborted, undefined);
    await sleep(100);
    assert.equal(requestLines(requestId).length, 1);
  });
});
