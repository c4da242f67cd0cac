import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { publicKeyPathFor } from '../../src/audit/anchors.js';
import { runTail } from '../../src/audit/tail.js';
import { runCallvault } from '../helpers/cli.js';
import { request } from '../helpers/http.js';
import { scratchDir } from '../helpers/scratch.js';
import { waitFor } from '../helpers/wait.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { event } from './support.js';

/**
 * `callvault audit tail` and `audit verify --consistency --vault`: clients of a running vault's
 * API, with a compliance token read from a file and the vault's CA.
 */

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const logSeqs = (text: string): number[] => text.trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { logSeq: number }).logSeq);

describe('audit tail and consistency from the vault', () => {
  let vault: TestVault;
  let dir: string;
  let client: { vault: string; tokenFile: string; caFile: string };

  before(async () => {
    vault = await startVault();
    dir = await scratchDir('callvault-tail-');
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, `${await vault.token('compliance', { tenant: 'acme', sub: 'siem' })}\n`, { mode: 0o600 });
    const caFile = path.join(dir, 'ca.pem');
    await writeFile(caFile, vault.ca);
    client = { vault: vault.url, tokenFile, caFile };
    for (let i = 1; i <= 8; i++) await vault.deps.audit.record(event(i));
  });
  after(() => vault.close());

  test('without --follow: the events after N, one per line, then exit', async () => {
    const out = new Capture();
    const err = new Capture();
    assert.equal(await runTail({ ...client, after: 5 }, out, err), 0, err.text);
    // 6..8, and 9: the tail's own export, audited before it was served.
    assert.deepEqual(logSeqs(out.text), [6, 7, 8, 9]);
    assert.doesNotMatch(out.text, /checkpoint/);
  });

  test('--follow prints events as they are written, and stops on its signal', async () => {
    const out = new Capture();
    const err = new Capture();
    const stop = new AbortController();
    const running = runTail({ ...client, after: 8, follow: true, signal: stop.signal }, out, err);
    await waitFor('the follow stream to start with its own audit.exported event', async () => logSeqs(out.text).length >= 1);
    await vault.deps.audit.record(event(20, { actorSub: 'late-writer' }));
    await waitFor('a new event on the open stream', async () => out.text.includes('"actorSub":"late-writer"'));
    stop.abort();
    assert.equal(await running, 0, err.text);
    const seqs = logSeqs(out.text);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => 9 + i), 'no event skipped or repeated');
  });

  test('the command line refuses a bad token with exit 1, and verifies consistency with a proof fetched from the vault', async () => {
    const badToken = path.join(dir, 'bad-token');
    await writeFile(badToken, 'not-a-token');
    const refused = await runCallvault(['audit', 'tail', '--vault', vault.url, '--token-file', badToken, '--ca', client.caFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered 401/);

    const token = readFile(client.tokenFile, 'utf8');
    const checkpointNow = async (name: string): Promise<string> => {
      // An export signs a checkpoint at its size; the latest one is served as the signed note.
      await request(vault, { path: '/v1/audit-events', token: (await token).trim() });
      const res = await request(vault, { path: '/v1/audit-checkpoints/latest', token: (await token).trim(), headers: { accept: 'text/plain' } });
      assert.equal(res.status, 200, res.body.toString());
      const file = path.join(dir, name);
      await writeFile(file, res.body);
      return file;
    };
    const older = await checkpointNow('old.checkpoint');
    for (let i = 30; i < 35; i++) await vault.deps.audit.record(event(i));
    const newer = await checkpointNow('new.checkpoint');
    const pub = publicKeyPathFor(vault.config.audit.anchorKey.file);
    const ok = await runCallvault(['audit', 'verify', '--consistency', older, newer, '--public-key', pub, '--vault', vault.url, '--token-file', client.tokenFile, '--ca', client.caFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /size \d+ extends size \d+ \(consistency proof of \d+ hashes\)\nOK\n$/);
  });
});

describe('audit tail --follow on a connection that goes silent', () => {
  test('a stream that brings nothing for longer than the keep-alive interval is reconnected after the last logSeq', async () => {
    const dir = await scratchDir('callvault-tail-stall-');
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'not-checked-here\n', { mode: 0o600 });
    const asked: string[] = [];
    const line = (n: number): string => `{"log":"callvault.example.com/test/tenant/acme","logSeq":${n},"seq":${n}}\n`;
    // A dropped connection as a proxy leaves it: open, and silent for good.
    const server = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (asked.length === 1) res.write(line(1));
      else res.write(line(2));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stop = new AbortController();
    const out = new Capture();
    const err = new Capture();
    const { port } = server.address() as AddressInfo;
    const running = runTail({ vault: `http://127.0.0.1:${port}`, tokenFile, follow: true, signal: stop.signal, stalledAfterMs: 300 }, out, err);
    try {
      await waitFor('the tail to reconnect and print event 2', () => Promise.resolve(out.text.includes('"logSeq":2,')));
    } finally {
      stop.abort();
      server.closeAllConnections();
      server.close();
    }
    assert.equal(await running, 0);
    assert.deepEqual(logSeqs(out.text), [1, 2]);
    assert.equal(asked[1], '/v1/audit-events?follow=true&after=1');
    assert.match(err.text, /nothing arrived for 0\.3 s; reconnecting after logSeq 1/);
  });
});
