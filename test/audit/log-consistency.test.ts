import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { logEventLeaf } from '../../src/audit/canonical.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { cliVerifyConsistency, type ConsistencyRequest } from '../../src/audit/log-cli.js';
import { checkpointLine, logNdjsonLine } from '../../src/audit/log-lines.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import { consistencyProof, rootHash } from '../../src/audit/merkle.js';
import type { LogEvent } from '../../src/audit/types.js';
import { BENCH_NAMESPACE, logEvents, type LogSpec } from '../../bench/lib/log-export.js';
import { runCallvault } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * `callvault audit verify --consistency OLD NEW`: an auditor who kept an older checkpoint checks
 * that the log only grew since (RFC 9162 §2.1.4.2), with a proof from the vault's consistency
 * endpoint saved to a file, or with a full export of the newer log.
 */

const ACME: LogSpec = { origin: `${BENCH_NAMESPACE}/tenant/acme`, tenant: 'acme' };
const keys = generateKeyPairSync('ed25519');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

interface Tree { readonly events: LogEvent[]; readonly store: MemorySubtreeStore }

function tree(spec: LogSpec, count: number): Tree {
  const events = [...logEvents(spec, count)];
  const store = new MemorySubtreeStore();
  for (const e of events) store.append(logEventLeaf(e));
  return { events, store };
}

async function checkpointAt(t: Tree, size: number, origin = ACME.origin, key: KeyObject = keys.privateKey): Promise<string> {
  return signCheckpoint({ origin, size, rootHash: await rootHash(t.store, size), time: new Date(Date.UTC(2026, 11, 1, size)) }, key);
}

describe('consistency between two checkpoints', () => {
  let dir: string;
  let pub: string;
  const grown = tree(ACME, 25);
  const rewritten = tree({ ...ACME, vary: (i) => (i === 4 ? { outcome: 'denied' } : undefined) }, 25);
  const files: Record<string, string> = {};

  async function put(name: string, text: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, text);
    files[name] = file;
    return file;
  }

  async function check(req: Omit<ConsistencyRequest, 'publicKeyFile'>): Promise<{ code: number; out: string; err: string }> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await cliVerifyConsistency({ ...req, publicKeyFile: pub }, { stdout, stderr });
    return { code, out: stdout.text, err: stderr.text };
  }

  const proofDoc = async (t: Tree, from: number, to: number): Promise<string> => JSON.stringify({
    from, to, hashes: (await consistencyProof(t.store, from, to)).map((h) => h.toString('base64')),
  });

  before(async () => {
    dir = await scratchDir('callvault-consistency-');
    pub = await put('anchor.pub.pem', keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await put('old.checkpoint', await checkpointAt(grown, 10));
    await put('new.checkpoint', await checkpointAt(grown, 25));
    await put('rewritten.checkpoint', await checkpointAt(rewritten, 25));
    await put('proof.json', await proofDoc(grown, 10, 25));
    await put('rewritten-proof.json', await proofDoc(rewritten, 10, 25));
    await put('grown.ndjson', grown.events.map((e) => logNdjsonLine(e)).join('') + checkpointLine(await checkpointAt(grown, 25)));
    await put('rewritten.ndjson', rewritten.events.map((e) => logNdjsonLine(e)).join('') + checkpointLine(await checkpointAt(rewritten, 25)));
  });

  test('a grown log passes with the proof of the consistency endpoint', async () => {
    const r = await check({ older: files['old.checkpoint']!, newer: files['new.checkpoint']!, proofFile: files['proof.json']! });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /size 25 extends size 10 \(consistency proof of \d+ hashes\)\nOK\n$/);
  });

  test('a rewritten log fails, whatever proof it offers', async () => {
    for (const proof of ['rewritten-proof.json', 'proof.json']) {
      const r = await check({ older: files['old.checkpoint']!, newer: files['rewritten.checkpoint']!, proofFile: files[proof]! });
      assert.equal(r.code, 1, r.out);
      assert.match(r.err, /^FAILED: the log of size 25 does not extend the log of size 10: history was rewritten/);
    }
  });

  test('a full export of the newer log recomputes both roots; a rewritten export fails', async () => {
    const ok = await check({ older: files['old.checkpoint']!, newer: files['new.checkpoint']!, proofFile: files['grown.ndjson']! });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /recomputes both roots: size 25 extends size 10\nOK\n$/);
    const bad = await check({ older: files['old.checkpoint']!, newer: files['rewritten.checkpoint']!, proofFile: files['rewritten.ndjson']! });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^FAILED: the export \S+ does not verify: events 1\.\.10 do not produce the root of the earlier checkpoint/);
  });

  test('checkpoints given newest first, of another log, or forged fail', async () => {
    const swapped = await check({ older: files['new.checkpoint']!, newer: files['old.checkpoint']!, proofFile: files['proof.json']! });
    assert.equal(swapped.code, 1);
    assert.match(swapped.err, /give the older one first/);
    const other = await put('globex.checkpoint', await checkpointAt(grown, 25, `${BENCH_NAMESPACE}/tenant/globex`));
    const foreign = await check({ older: files['old.checkpoint']!, newer: other, proofFile: files['proof.json']! });
    assert.equal(foreign.code, 1);
    assert.match(foreign.err, /checkpoint is of log \S+globex, not \S+acme/);
    const forged = await put('forged.checkpoint', await checkpointAt(rewritten, 25, ACME.origin, generateKeyPairSync('ed25519').privateKey));
    const unsigned = await check({ older: files['old.checkpoint']!, newer: forged, proofFile: files['proof.json']! });
    assert.equal(unsigned.code, 1);
    assert.match(unsigned.err, /no signature by a trusted key/);
  });

  test('the command line: --consistency OLD NEW with --public-key and --proof; usage errors exit 2', async () => {
    const ok = await runCallvault(['audit', 'verify', '--consistency', files['old.checkpoint']!, files['new.checkpoint']!, '--public-key', pub, '--proof', files['proof.json']!]);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await runCallvault(['audit', 'verify', '--consistency', files['old.checkpoint']!, files['rewritten.checkpoint']!, '--public-key', pub, '--proof', files['proof.json']!]);
    assert.equal(bad.code, 1);
    const usage = await runCallvault(['audit', 'verify', '--consistency', files['old.checkpoint']!, files['new.checkpoint']!, '--public-key', pub]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--consistency needs --proof FILE or --vault URL/);
  });
});
