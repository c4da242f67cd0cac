import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { canonicalLogEvent, hashEvent, logEventLeaf } from '../../src/audit/canonical.js';
import { signCheckpoint, verifyCheckpoint } from '../../src/audit/checkpoint.js';
import { describe as describeEpoch } from '../../src/audit/cli.js';
import { ndjsonLine } from '../../src/audit/export.js';
import { cliVerifyFile, type FileVerifyRequest } from '../../src/audit/log-cli.js';
import { verifyLogExport } from '../../src/audit/log-verify.js';
import { epochCsvLine, logCsvHeader, logCsvLine } from '../../src/audit/log-csv.js';
import { checkpointLine, logCanonical, logNdjsonLine, proofJson, scanLogLine } from '../../src/audit/log-lines.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import { CompactMerkle } from '../../src/audit/merkle-compact.js';
import { inclusionProof, rootHash } from '../../src/audit/merkle.js';
import { GENESIS_HASH, type AuditEvent, type LogEvent } from '../../src/audit/types.js';
import { BENCH_NAMESPACE, logEvents, type LogSpec } from '../../bench/lib/log-export.js';
import { runCallvault } from '../helpers/cli.js';
import { scratchDir } from '../helpers/scratch.js';

/**
 * Per-log export files built exactly as the vault writes them, verified offline the way an
 * auditor runs `callvault audit verify FILE --public-key PEM`, and then tampered with line by line.
 */

const N = 13;
const ACME: LogSpec = { origin: `${BENCH_NAMESPACE}/tenant/acme`, tenant: 'acme' };
const keys = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

interface Log { readonly events: LogEvent[]; readonly store: MemorySubtreeStore; readonly note: string }

async function buildLog(spec: LogSpec, count: number, privateKey = keys.privateKey): Promise<Log> {
  const events = [...logEvents(spec, count)];
  const store = new MemorySubtreeStore();
  for (const e of events) store.append(logEventLeaf(e));
  const note = signCheckpoint({ origin: spec.origin, size: count, rootHash: await rootHash(store, count), time: new Date('2026-12-01T12:00:00.000Z') }, privateKey);
  return { events, store, note };
}

const lines = (text: string): string[] => text.split('\n').filter(Boolean).map((l) => `${l}\n`);

describe('offline verification of per-log exports', () => {
  let dir: string;
  let pub: string;
  let log: Log;
  let full: string;
  let n = 0;

  async function file(text: string, ext = 'ndjson'): Promise<string> {
    const name = path.join(dir, `export-${++n}.${ext}`);
    await writeFile(name, text);
    return name;
  }

  async function verify(req: Omit<FileVerifyRequest, 'publicKeyFile'> & { publicKeyFile?: string | null }): Promise<{ code: number; out: string; err: string }> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await cliVerifyFile({ ...req, publicKeyFile: req.publicKeyFile === null ? undefined : req.publicKeyFile ?? pub }, { stdout, stderr }, describeEpoch);
    return { code, out: stdout.text, err: stderr.text };
  }

  async function expectFailure(text: string, logSeq: number | null, reason: RegExp): Promise<void> {
    const r = await verify({ file: await file(text) });
    assert.equal(r.code, 1, `tampering went unnoticed:\n${r.out}${r.err}`);
    assert.match(r.err, logSeq === null ? /^FAILED: / : new RegExp(`^FAILED at logSeq ${logSeq}: `), r.err);
    assert.match(r.err, reason);
  }

  before(async () => {
    dir = await scratchDir('callvault-log-verify-');
    pub = path.join(dir, 'anchor.pub.pem');
    await writeFile(pub, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    log = await buildLog(ACME, N);
    full = log.events.map((e) => logNdjsonLine(e)).join('') + checkpointLine(log.note);
  });
  after(async () => { /* the scratch directory is removed with the test's tmp */ });

  test('the streamed root equals the root from stored subtrees at every size', async () => {
    const store = new MemorySubtreeStore();
    const acc = new CompactMerkle();
    assert.deepEqual(acc.root(), await rootHash(store, 0));
    for (let i = 0; i < 130; i += 1) {
      const leaf = logEventLeaf({ ...log.events[0]!, logSeq: i + 1 });
      store.append(leaf);
      acc.append(leaf);
      assert.deepEqual(acc.root(), await rootHash(store, i + 1), `size ${i + 1}`);
    }
  });

  test('the export line and canonical encoding agree with canonicalLogEvent for any event', () => {
    const text = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });
    fc.assert(fc.property(text, text, fc.dictionary(fc.string(), fc.jsonValue()), fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: null }), (ua, ip, details, rp) => {
      const e = { ...log.events[3]!, userAgent: ua, ip, details: JSON.parse(JSON.stringify(details)) as Record<string, unknown>, recordingPrev: rp };
      assert.equal(logCanonical(e), canonicalLogEvent(e));
    }));
  });

  test('an unfiltered export verifies: 1..size without gaps, chain, root and signature', async () => {
    const r = await verify({ file: await file(full) });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`log ${ACME.origin}: checked ${N} events \\(logSeq 1\\.\\.${N}\\), complete up to the checkpoint of size ${N} signed 2026-12-01T12:00:00.000Z\\nOK\\n$`));
  });

  test('deleting any line fails naming that event', async () => {
    for (let k = 1; k <= N; k += 1) {
      const changed = lines(full).filter((_l, i) => i !== k - 1).join('');
      await expectFailure(changed, k, k === N ? /events? 13.*(were removed|missing)/ : new RegExp(`event ${k} is missing`));
    }
  });

  test('editing any line fails naming that event', async () => {
    for (let k = 1; k <= N; k += 1) {
      const changed = lines(full).map((l, i) => (i === k - 1 ? l.replace(/"actorSub":"user-\d"/, '"actorSub":"mallory"') : l)).join('');
      await expectFailure(changed, k, new RegExp(`event ${k} was altered`));
    }
  });

  test('swapping any two neighbouring lines fails naming the first event out of place', async () => {
    for (let k = 1; k < N; k += 1) {
      const ls = lines(full);
      [ls[k - 1], ls[k]] = [ls[k]!, ls[k - 1]!];
      await expectFailure(ls.join(''), k, /missing|out of order/);
    }
  });

  test('truncating the tail fails naming the first missing event, with or without the checkpoint line', async () => {
    const ls = lines(full);
    await expectFailure([...ls.slice(0, N - 3), ls[N]!].join(''), N - 2, /ends at logSeq 10 but its checkpoint covers 13 events: events 11\.\.13 were removed/);
    await expectFailure(ls.slice(0, N - 3).join(''), N - 2, /without its checkpoint line: it was cut off/);
    await expectFailure(full.slice(0, full.indexOf('"logSeq":7,') + 40), 7, /not valid JSON|without its checkpoint/);
  });

  test('a line reformatted or with a repeated member fails, though JSON readers would accept it', async () => {
    const ls = lines(full);
    const spaced = ls.map((l, i) => (i === 4 ? l.replace('"tenant":"acme"', '"tenant": "acme"') : l)).join('');
    await expectFailure(spaced, 5, /not exactly those the export writes/);
    const doubled = ls.map((l, i) => (i === 4 ? l.replace('"tenant":"acme"', '"tenant":"globex","tenant":"acme"') : l)).join('');
    await expectFailure(doubled, 5, /not exactly those the export writes/);
  });

  test('details holding a number JSON allows but no event can (1e400) fail at that event, in every reading', async () => {
    const ls = lines(full);
    const huge = (l: string): string => l.replace(/"details":\{/, '"details":{"a":1e400,');
    await expectFailure(ls.map((l, i) => (i === 5 ? huge(l) : l)).join(''), 6, /.+/);
    const withProof = ls.map((l, i) => (i === 5 ? huge(l).replace(/\}\n$/, ',"proof":{"treeSize":13,"hashes":[]}}\n') : l)).join('');
    await expectFailure(withProof, 6, /.+/);
  });

  test('a history rewritten and re-chained throughout fails against the signed root', async () => {
    const forged = await buildLog({ ...ACME, vary: (i) => (i === 6 ? { outcome: 'denied' } : undefined) }, N);
    await expectFailure(forged.events.map((e) => logNdjsonLine(e)).join('') + checkpointLine(log.note), null, /do not produce the root signed in the checkpoint/);
  });

  test('a forged, edited or foreign checkpoint fails', async () => {
    const events = log.events.map((e) => logNdjsonLine(e)).join('');
    const byStranger = await buildLog(ACME, N, stranger.privateKey);
    await expectFailure(events + checkpointLine(byStranger.note), null, /checkpoint does not verify: no signature by a trusted key/);
    await expectFailure(events + checkpointLine(log.note.replace(`\n${N}\n`, `\n${N - 1}\n`)), null, /checkpoint does not verify/);
    const globex = await buildLog({ origin: `${BENCH_NAMESPACE}/tenant/globex`, tenant: 'globex' }, N);
    await expectFailure(events + checkpointLine(globex.note), 1, /belongs to log .*acme, not to .*globex/);
  });

  test('without the public key the log is checked but the exit code says the signature was not (3)', async () => {
    const r = await verify({ file: await file(full), publicKeyFile: null });
    assert.equal(r.code, 3, r.err);
    assert.match(r.out, /checkpoint signature NOT checked \(no --public-key\)/);
    assert.doesNotMatch(r.out, /^OK$/m);
  });

  test('a filtered export verifies each event by its inclusion proof; an edit or a wrong proof fails at that event', async () => {
    const picked = log.events.filter((e) => e.recordingId === log.events[2]!.recordingId || e.logSeq === 11);
    const proven = await Promise.all(picked.map(async (e) => logNdjsonLine(e, proofJson(N, await inclusionProof(log.store, e.logSeq - 1, N)))));
    const text = proven.join('') + checkpointLine(log.note);
    const ok = await verify({ file: await file(text) });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, new RegExp(`checked ${picked.length} events \\(logSeq 3\\.\\.11\\), each proven in the tree of size ${N}`));
    await expectFailure(text.replace('"actorSub":"user-4"', '"actorSub":"mallory"'), 11, /event 11 was altered/);
    const swappedProof = proven.map((l, i) => (i === 0 ? l.replace(/"proof":.*\n$/, proven[1]!.slice(proven[1]!.indexOf('"proof":'))) : l));
    await expectFailure(swappedProof.join('') + checkpointLine(log.note), 3, /event 3 is not in the signed tree/);
    // An earlier checkpoint cannot be checked against events that do not rebuild the tree: said, never passed.
    const older = verifyCheckpoint(log.note, keys.publicKey);
    const withOlder = await verifyLogExport(await file(text), { publicKey: keys.publicKey, older });
    assert.equal(withOlder.ok, false);
    assert.match(withOlder.reason ?? '', new RegExp(`earlier checkpoint of size ${N} cannot be checked against a filtered export`));
    const mixed = [proven[0]!, logNdjsonLine(picked[1]!)].join('') + checkpointLine(log.note);
    await expectFailure(mixed, picked[1]!.logSeq, /lacks an inclusion proof, unlike the events before it/);
  });

  test('CSV keeps plain rows and verifies with its detached checkpoint file; without it, exit 3', async () => {
    const csv = logCsvHeader(false) + log.events.map((e) => logCsvLine(e)).join('');
    const checkpointFile = path.join(dir, 'acme.checkpoint');
    await writeFile(checkpointFile, log.note);
    const csvFile = await file(csv, 'csv');
    const ok = await verify({ file: csvFile, checkpointFile });
    assert.equal(ok.code, 0, ok.err);
    const bare = await verify({ file: csvFile });
    assert.equal(bare.code, 3);
    assert.match(bare.out, /checkpoint NOT checked \(a CSV export needs --checkpoint FILE\)/);
    const dropped = await verify({ file: await file(csv.replace(/\r\n[^\r]*"req-9"[^\r]*\r\n/, '\r\n'), 'csv'), checkpointFile });
    assert.equal(dropped.code, 1);
    assert.match(dropped.err, /^FAILED at logSeq 9: /);
  });

  test('single-chain epoch lines before the log keep today\'s checks', async () => {
    const epoch: AuditEvent[] = [];
    let prevHash = GENESIS_HASH;
    for (let seq = 1; seq <= 3; seq += 1) {
      const e = { ...log.events[0]!, seq, prevHash };
      const { log: _l, logSeq: _s, recordingPrev: _r, ...plain } = e;
      const event = { ...plain, hash: hashEvent(plain) };
      epoch.push(event);
      prevHash = event.hash;
    }
    const text = epoch.map(ndjsonLine).join('') + full;
    const noAnchors = await verify({ file: await file(text) });
    assert.equal(noAnchors.code, 3, noAnchors.err);
    assert.match(noAnchors.out, /checked 3 events \(seq 1\.\.3\)[^]*checked 13 events \(logSeq 1\.\.13\)[^]*anchors NOT checked \(no --anchors DIR\)/);
    const edited = await verify({ file: await file(text.replace('"requestId":"req-1","details":{}', '"requestId":"req-x","details":{}')) });
    assert.equal(edited.code, 1);
    assert.match(edited.err, /^FAILED at seq 1: event 1 was altered/);
    const csv = logCsvHeader(false) + epoch.map((e) => epochCsvLine(e, false)).join('') + log.events.map((e) => logCsvLine(e)).join('');
    const checkpointFile = path.join(dir, 'epoch.checkpoint');
    await writeFile(checkpointFile, log.note);
    const fromCsv = await verify({ file: await file(csv, 'csv'), checkpointFile });
    assert.equal(fromCsv.code, 3, fromCsv.err);
    assert.match(fromCsv.out, /checked 3 events \(seq 1\.\.3\)[^]*checked 13 events \(logSeq 1\.\.13\), complete/);
  });

  test('the command runs offline from any directory and creates nothing', async () => {
    const cwd = await scratchDir('callvault-auditor-');
    const ok = await runCallvault(['audit', 'verify', await file(full), '--public-key', pub], { cwd });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /complete up to the checkpoint of size 13[^]*\nOK\n$/);
    const cut = await runCallvault(['audit', 'verify', await file(lines(full).slice(0, 5).join('')), '--public-key', pub], { cwd });
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /^FAILED at logSeq 6: /);
    assert.deepEqual(await readdir(cwd), []);
    assert.ok((await readFile(pub, 'utf8')).includes('PUBLIC KEY'));
  });
});

describe('the fast reading of export lines', () => {
  const base = [...logEvents(ACME, 6)];

  test('reads every line the exporter writes, to the same event and canonical encoding', () => {
    const text = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });
    fc.assert(fc.property(text, fc.string({ unit: 'grapheme' }), fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (ua, actor, details, proven) => {
      const e = { ...base[4]!, userAgent: ua, actorSub: actor, details: JSON.parse(JSON.stringify(details)) as Record<string, unknown> };
      const proof = proven ? proofJson(9, [Buffer.alloc(32, 1), Buffer.alloc(32, 2)]) : null;
      const line = logNdjsonLine(e, proof).slice(0, -1);
      const read = scanLogLine(line);
      if (read === null) return; // escaped text: read by the strict path, covered above
      assert.equal(read.canonical, canonicalLogEvent(e));
      assert.deepEqual(read.event, e);
      assert.deepEqual(read.proof, proof);
    }));
  });

  test('accepts a changed line only when the strict reading would: it is then exactly the exporter\'s line of what was read', () => {
    const lines = base.map((e, i) => logNdjsonLine(e, i % 2 ? proofJson(6, [Buffer.alloc(32, i)]) : null).slice(0, -1));
    const alphabet = ['"', '\\', ',', ':', '{', '}', '0', '1', 'a', ' ', 'null', '\u0001', 'é'];
    fc.assert(fc.property(fc.integer({ min: 0, max: lines.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 3 }), fc.constantFrom(...alphabet), (which, at, cut, insert) => {
      const line = lines[which]!;
      const i = at % line.length;
      const changed = line.slice(0, i) + insert + line.slice(i + cut);
      const read = scanLogLine(changed);
      if (read === null) return;
      assert.equal(logNdjsonLine(read.event, read.proof), `${changed}\n`, changed);
      assert.equal(read.canonical, canonicalLogEvent(read.event));
    }), { numRuns: 3000 });
  });
});
