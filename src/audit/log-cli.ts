import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { loadAnchorsFromDir, loadPublicKey } from './anchors.js';
import { verifyCheckpoint, verifyCheckpointConsistency, type Checkpoint } from './checkpoint.js';
import { verifyLogExport, type LogFileResult } from './log-verify.js';
import { NoteError } from './note.js';
import { firstChunk } from './export-records.js';
import { vaultJson } from './tail.js';
import type { FileVerifyResult } from './verify.js';

/** Exit codes of `callvault audit verify`, as docs/audit.md lists them. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** Intact as far as checked, but something that proves completeness or authenticity was not checked. */
export const EXIT_NOT_FULLY_CHECKED = 3;

export interface Output {
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

export function printer(w: Writable | undefined, fallback: Writable): (line: string) => void {
  const target = w ?? fallback;
  return (line) => { target.write(`${line}\n`); };
}

export interface FileVerifyRequest {
  readonly file: string;
  readonly anchorsDir?: string;
  readonly publicKeyFile?: string;
  readonly complete?: boolean;
  /** A CSV export's detached checkpoint (the file its `Link: rel="checkpoint"` header names). */
  readonly checkpointFile?: string;
}

/** Today's description of the epoch part (src/audit/cli.ts). */
export type DescribeEpoch = (r: FileVerifyResult, file: string) => string[];

function describeLog(r: LogFileResult, file: string): string[] {
  const { log } = r;
  if (log.checked === 0 && !log.checkpoint) return [];
  const range = log.checked === 0 ? 'no events' : `${log.checked} events (logSeq ${log.firstLogSeq}..${log.lastLogSeq})`;
  const cp = log.checkpoint;
  const against = !cp ? 'no checkpoint'
    : log.filtered ? `each proven in the tree of size ${cp.size} signed ${cp.time?.toISOString() ?? '(no time)'}; a filtered export: events not in the file are not covered`
      : `complete up to the checkpoint of size ${cp.size} signed ${cp.time?.toISOString() ?? '(no time)'}`;
  return [`file ${file}: log ${log.origin ?? cp?.origin ?? '?'}: checked ${range}, ${against}`];
}

/** What was not checked, if anything: each line says so, and the exit code is then 3. */
function unchecked(r: LogFileResult, req: FileVerifyRequest, keyGiven: boolean): string[] {
  const lines: string[] = [];
  if (r.epoch && !keyGiven) lines.push('chain intact; anchors NOT checked (no --public-key): a removed tail or a re-chained history would not show');
  else if (r.epoch && !req.anchorsDir) lines.push('events of the single-chain epoch: anchors NOT checked (no --anchors DIR)');
  const hasLog = r.log.checked > 0 || r.log.checkpoint !== null;
  if (hasLog && !r.log.checkpoint) lines.push('per-log events: checkpoint NOT checked (a CSV export needs --checkpoint FILE): completeness is not proven');
  else if (hasLog && !r.log.signed) lines.push('per-log events: checkpoint signature NOT checked (no --public-key): a forged checkpoint would not show');
  return lines;
}

/**
 * `callvault audit verify FILE`, offline. Exit 0 when everything in the file is proven (events,
 * completeness or inclusion, checkpoint signature, epoch anchors), 1 naming the first bad event,
 * 2 when it could not run, 3 when what was checked is intact but something was not checked.
 */
export async function cliVerifyFile(req: FileVerifyRequest, out: Output, describeEpoch: DescribeEpoch): Promise<number> {
  const print = printer(out.stdout, process.stdout);
  const fail = printer(out.stderr, process.stderr);
  let result: LogFileResult;
  let key: KeyObject | undefined;
  try {
    key = req.publicKeyFile ? await loadPublicKey(req.publicKeyFile) : undefined;
    const anchors = key && req.anchorsDir ? await loadAnchorsFromDir(req.anchorsDir).catch((e: unknown) => e as Error) : [];
    if (anchors instanceof Error) {
      fail(`FAILED: ${anchors.message}`);
      return EXIT_FAILED;
    }
    const checkpoint = req.checkpointFile ? await readFile(req.checkpointFile, 'utf8') : undefined;
    result = await verifyLogExport(req.file, { publicKey: key, anchors, complete: req.complete ?? false, checkpoint });
  } catch (e) {
    fail(`audit verify could not run: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  for (const line of [...(result.epoch ? describeEpoch(result.epoch, req.file) : []), ...describeLog(result, req.file)]) print(line);
  if (!result.ok) {
    fail(`FAILED${result.failedAt ? ` at ${result.failedAt}` : ''}: ${result.reason ?? 'verification failed'}`);
    return EXIT_FAILED;
  }
  const missing = unchecked(result, req, key !== undefined);
  if (!result.epoch && result.log.checked === 0 && !result.log.checkpoint) missing.push('the file holds no events');
  for (const line of missing) print(line);
  if (missing.length > 0) {
    print('to check everything: callvault audit verify FILE --public-key PEM [--anchors DIR] [--checkpoint FILE]');
    return EXIT_NOT_FULLY_CHECKED;
  }
  if (result.epoch && result.epoch.anchorsMatched === 0) print('warning: no anchor matched the epoch events, so a removed tail of them would not show');
  print('OK');
  return EXIT_OK;
}

export interface ConsistencyRequest {
  readonly older: string;
  readonly newer: string;
  readonly publicKeyFile: string;
  /** The proof: a JSON file holding `hashes` (the consistency endpoint's answer), or a full export of the log. */
  readonly proofFile?: string;
  /** Fetches the proof from the vault instead (base URL) with the bearer token in `tokenFile`. */
  readonly vault?: string;
  readonly tokenFile?: string;
  /** PEM of a CA to trust for --vault (the embedded mode's self-signed certificate). */
  readonly caFile?: string;
}

/** The consistency proof in a JSON document: `hashes` (or `proof`) as hex or base64 strings. */
export function proofHashes(doc: unknown): Buffer[] {
  const d = (doc ?? {}) as Record<string, unknown>;
  const list = Array.isArray(d.hashes) ? d.hashes : Array.isArray(d.proof) ? d.proof : null;
  if (!list || !list.every((h) => typeof h === 'string')) throw new Error('the proof document has no "hashes" array of strings');
  return (list as string[]).map((h) => {
    const bytes = /^[0-9a-f]{64}$/.test(h) ? Buffer.from(h, 'hex') : Buffer.from(h, 'base64');
    if (bytes.length !== 32) throw new Error('a proof hash is not 32 bytes, as hex or base64');
    return bytes;
  });
}

/** GET /v1/audit-checkpoints/consistency of the vault, with a compliance token. */
async function fetchProof(req: ConsistencyRequest, older: Checkpoint, newer: Checkpoint): Promise<Buffer[]> {
  if (!req.vault || !req.tokenFile) throw new Error('--vault needs --token-file FILE (a bearer token of role compliance)');
  const client = { vault: req.vault, tokenFile: req.tokenFile, caFile: req.caFile };
  return proofHashes(await vaultJson(client, `/v1/audit-checkpoints/consistency?from=${older.size}&to=${newer.size}`));
}

/**
 * `callvault audit verify --consistency OLD NEW`: the log of checkpoint NEW extends the log of
 * checkpoint OLD (RFC 9162 §2.1.4.2). Both must verify under the public key and name one log.
 */
export async function cliVerifyConsistency(req: ConsistencyRequest, out: Output): Promise<number> {
  const print = printer(out.stdout, process.stdout);
  const fail = printer(out.stderr, process.stderr);
  let older: Checkpoint;
  let newer: Checkpoint;
  let key: KeyObject;
  let olderNote: string;
  let newerNote: string;
  try {
    key = await loadPublicKey(req.publicKeyFile);
    [olderNote, newerNote] = await Promise.all([readFile(req.older, 'utf8'), readFile(req.newer, 'utf8')]);
  } catch (e) {
    fail(`audit verify could not run: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  try {
    older = verifyCheckpoint(olderNote, key);
    newer = verifyCheckpoint(newerNote, key, older.origin);
    if (older.size > newer.size) throw new Error(`${req.older} is of size ${older.size}, larger than ${req.newer} (${newer.size}): give the older one first`);
  } catch (e) {
    fail(`FAILED: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
  try {
    const how = req.proofFile ? await proofFromFile(req.proofFile, older, newer, key) : await fetchProof(req, older, newer);
    if (how === 'export') {
      print(`log ${older.origin}: the export ${req.proofFile} recomputes both roots: size ${newer.size} extends size ${older.size}`);
    } else {
      verifyCheckpointConsistency(olderNote, newerNote, how, key);
      print(`log ${older.origin}: size ${newer.size} extends size ${older.size} (consistency proof of ${how.length} hashes)`);
    }
  } catch (e) {
    if (e instanceof ExportMismatch || e instanceof NoteError) {
      fail(`FAILED: ${(e as Error).message}`);
      return EXIT_FAILED;
    }
    fail(`audit verify could not run: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  print('OK');
  return EXIT_OK;
}

class ExportMismatch extends Error {}

/** A proof document, or a full export of the log whose first events must give OLD's root and whose checkpoint is NEW's. */
async function proofFromFile(file: string, older: Checkpoint, newer: Checkpoint, key: KeyObject): Promise<Buffer[] | 'export'> {
  const head = await firstChunk(file);
  if (head.startsWith('{') && !/^\{"(?:log|seq|checkpoint)"/.test(head)) return proofHashes(JSON.parse(await readFile(file, 'utf8')));
  const result = await verifyLogExport(file, { publicKey: key, older });
  if (!result.ok) throw new ExportMismatch(`the export ${file} does not verify${result.failedAt ? ` at ${result.failedAt}` : ''}: ${result.reason ?? ''}`);
  const cp = result.log.checkpoint;
  if (!cp || result.log.filtered || cp.origin !== newer.origin || cp.size !== newer.size || !cp.rootHash.equals(newer.rootHash)) {
    throw new ExportMismatch(`the export ${file} is not a full export ending with the newer checkpoint`);
  }
  return 'export';
}
