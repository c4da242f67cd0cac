import { hash as cryptoHash, type KeyObject } from 'node:crypto';
import { canonicalLogEvent } from './canonical.js';
import { parseCheckpoint, verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { exportFormat, exportRecords, isRecordError, tailCheckpoint } from './export-records.js';
import { LogRecordError, type ExportRecord, type ProofJson, type SealedLine } from './log-lines.js';
import { verifyInclusion } from './merkle.js';
import { MerkleFold } from './merkle-fold.js';
import { GENESIS_HASH, type Anchor, type AuditEvent, type LogEvent } from './types.js';
import { verifyEvents, type FileVerifyResult } from './verify.js';

/**
 * Offline verification of a per-log export: the events of one log, the checkpoint that signs
 * them, and (in a tenant's export that spans the epoch) the single-chain events before them,
 * which keep today's checks. One pass, constant memory: each event is checked as it is read and
 * its leaf folded into a root of O(log n) hashes; filtered exports carry one inclusion proof per
 * event, checked against the checkpoint read first from the end of the file.
 */

export interface LogVerifyOptions {
  /** The anchor public key: checks the checkpoint's signature (and the epoch anchors). */
  readonly publicKey?: KeyObject;
  /** Anchors for the epoch part, as today. */
  readonly anchors?: readonly Anchor[];
  /** The epoch part is a full export: it must start at seq 1 without gaps. */
  readonly complete?: boolean;
  /** The checkpoint as a separate file's text (CSV exports carry none of their own). */
  readonly checkpoint?: string;
  /** An earlier, already verified checkpoint of the same log: its root must be the root of the file's first events. */
  readonly older?: Checkpoint;
}

export interface LogPart {
  readonly origin: string | null;
  readonly checked: number;
  readonly firstLogSeq: number;
  readonly lastLogSeq: number;
  readonly filtered: boolean;
  readonly checkpoint: Checkpoint | null;
  /** The checkpoint's signature verified under its origin with the public key. */
  readonly signed: boolean;
}

export interface LogFileResult {
  readonly ok: boolean;
  /** Today's result for the single-chain events at the start of the file; null when there are none. */
  readonly epoch: FileVerifyResult | null;
  readonly log: LogPart;
  /** Where the first problem is (`logSeq 5`, `seq 3`), when it is at an event. */
  readonly failedAt?: string;
  readonly reason?: string;
}

class Failure extends Error {
  constructor(readonly at: string | null, reason: string) { super(reason); }
}

const at = (logSeq: number | undefined): string | null => (logSeq === undefined ? null : `logSeq ${logSeq}`);

/** The per-event checks, in file order; a pure state machine over the records. */
class LogChecker {
  origin: string | null;
  checked = 0;
  firstLogSeq = 0;
  lastLogSeq = 0;
  filtered: boolean | null = null;
  #lastHash = GENESIS_HASH;
  readonly #root = new MerkleFold();
  readonly #hashes = new EventHasher();
  #olderMatched = false;

  constructor(readonly checkpoint: Checkpoint | null, readonly older: Checkpoint | undefined) {
    this.origin = checkpoint?.origin ?? null;
    this.#olderMatched = older?.size === 0;
  }

  feed(e: LogEvent, proof: ProofJson | null, canonical: string = encode(e)): void {
    const { hash, leaf } = this.#hashes.of(e.prevHash, canonical);
    this.#admit(e, proof, hash === e.hash, leaf);
  }

  /** A line read from its bytes, whose content was found to produce its hash. */
  feedSealed(line: SealedLine): void {
    this.#admit(line, null, true, line.leaf);
  }

  /** The checks in the order their failures are reported; `intact`: the content produces the event's hash. */
  #admit(e: Pick<LogEvent, 'log' | 'logSeq' | 'prevHash' | 'hash'>, proof: ProofJson | null, intact: boolean, leaf: string): void {
    const n = e.logSeq;
    const last = this.lastLogSeq;
    if (this.origin === null) this.origin = e.log;
    if (e.log !== this.origin) throw new Failure(at(n), `event ${n} belongs to log ${e.log}, not to ${this.origin}`);
    this.filtered ??= proof !== null;
    if (this.filtered !== (proof !== null)) throw new Failure(at(n), `event ${n} ${proof ? 'carries' : 'lacks'} an inclusion proof, unlike the events before it`);
    if (n <= last) throw new Failure(at(n), `logSeq ${n} follows logSeq ${last}: events are out of order or repeated`);
    if (!this.filtered && n !== last + 1) throw new Failure(at(last + 1), `logSeq ${n} follows logSeq ${last}: event${n - last > 2 ? `s ${last + 1}..${n - 1} are` : ` ${last + 1} is`} missing`);
    if (this.checkpoint && n > this.checkpoint.size) throw new Failure(at(n), `event ${n} is not covered by the checkpoint, whose tree has ${this.checkpoint.size} events`);
    if (!intact) throw new Failure(at(n), `event ${n} was altered: its hash does not match its content`);
    if (n === 1 && e.prevHash !== GENESIS_HASH) throw new Failure(at(n), 'event 1 does not start from the genesis hash');
    if (n === last + 1 && last > 0 && e.prevHash !== this.#lastHash) throw new Failure(at(n), `event ${n} does not link to event ${last}: its prevHash differs`);
    if (proof) this.#checkProof(n, leaf, proof);
    else this.#append(leaf);
    if (this.checked === 0) this.firstLogSeq = n;
    this.checked += 1;
    this.lastLogSeq = n;
    this.#lastHash = e.hash;
  }

  #checkProof(n: number, leaf: string, proof: ProofJson): void {
    const cp = this.checkpoint;
    if (!cp) return;
    if (proof.treeSize !== cp.size) throw new Failure(at(n), `event ${n} is proven in a tree of ${proof.treeSize} events, not in the checkpoint's of ${cp.size}`);
    const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
    if (!verifyInclusion(n - 1, cp.size, Buffer.from(leaf, 'latin1'), hashes, cp.rootHash)) {
      throw new Failure(at(n), `event ${n} is not in the signed tree: its inclusion proof does not lead to the checkpoint's root`);
    }
  }

  #append(leaf: string): void {
    this.#root.append(leaf);
    const older = this.older;
    if (older && this.#root.size === older.size) {
      if (!this.#root.root().equals(older.rootHash)) {
        throw new Failure(null, `events 1..${older.size} do not produce the root of the earlier checkpoint of size ${older.size}: history was rewritten since`);
      }
      this.#olderMatched = true;
    }
  }

  /** After the last record. `expectCheckpoint`: the file format carries its checkpoint (NDJSON). */
  finish(expectCheckpoint: boolean): void {
    const cp = this.checkpoint;
    const last = this.lastLogSeq;
    if (!cp) {
      if (expectCheckpoint && this.checked > 0) throw new Failure(at(last + 1), `the export ends after logSeq ${last} without its checkpoint line: it was cut off`);
      this.#olderUncheckable('an export without its checkpoint');
      return;
    }
    if (this.filtered) {
      this.#olderUncheckable('a filtered export, whose events do not rebuild the tree');
      return;
    }
    if (last < cp.size) throw new Failure(at(last + 1), `the export ends at logSeq ${last} but its checkpoint covers ${cp.size} events: events ${last + 1}..${cp.size} were removed`);
    if (!this.#root.root().equals(cp.rootHash)) {
      throw new Failure(null, `events 1..${cp.size} do not produce the root signed in the checkpoint: the log was rewritten and re-chained`);
    }
    if (this.older && !this.#olderMatched) throw new Failure(null, `the earlier checkpoint of size ${this.older.size} is larger than this log`);
  }

  /** An earlier checkpoint given to check against a log this export cannot rebuild: say so, never pass. */
  #olderUncheckable(what: string): void {
    if (this.older && !this.#olderMatched) throw new Failure(null, `the earlier checkpoint of size ${this.older.size} cannot be checked against ${what}`);
  }

  part(signed: boolean): LogPart {
    const { origin, checked, firstLogSeq, lastLogSeq, checkpoint } = this;
    return { origin, checked, firstLogSeq, lastLogSeq, filtered: this.filtered ?? false, checkpoint, signed };
  }
}

/**
 * The chain hash, SHA-256(prevHash bytes || canonical), and the leaf, SHA-256(0x00 || canonical),
 * from one buffer reused for every event: the prefix byte before the canonical text is the last
 * byte of prevHash for the first hash and 0x00 for the second. The leaf comes as a latin1 string,
 * which node's one-shot hash returns far more cheaply than a Buffer (see MerkleFold).
 */
class EventHasher {
  #buffer = Buffer.alloc(64 * 1024);

  of(prevHash: string, canonical: string): { hash: string; leaf: string } {
    // Room for the longest UTF-8 form of the text (3 bytes per UTF-16 unit), so one write encodes it whole.
    if (32 + canonical.length * 3 > this.#buffer.length) this.#buffer = Buffer.alloc(32 + canonical.length * 6);
    const b = this.#buffer;
    b.write(prevHash, 0, 32, 'hex');
    const length = 32 + b.write(canonical, 32, 'utf8');
    const hash = cryptoHash('sha256', b.subarray(0, length), 'hex');
    b[31] = 0x00;
    return { hash, leaf: cryptoHash('sha256', b.subarray(31, length), 'binary') };
  }
}

function encode(e: LogEvent): string {
  try {
    return canonicalLogEvent(e);
  } catch (err) {
    throw new Failure(at(e.logSeq), `event ${e.logSeq} cannot be encoded: ${(err as Error).message}`);
  }
}

function openCheckpoint(note: string, key: KeyObject | undefined): Checkpoint {
  try {
    return key ? verifyCheckpoint(note, key) : parseCheckpoint(note).checkpoint;
  } catch (err) {
    throw new Failure(null, `the checkpoint ${key ? 'does not verify' : 'is malformed'}: ${(err as Error).message}`);
  }
}

/** Verifies an export file offline; see the module comment. Throws only when the file cannot be read. */
export async function verifyLogExport(file: string, opts: LogVerifyOptions = {}): Promise<LogFileResult> {
  const format = await exportFormat(file) ?? 'ndjson';
  const note = opts.checkpoint ?? (format === 'ndjson' ? await tailCheckpoint(file) : null);
  const records = exportRecords(file, format);
  let checker = new LogChecker(null, opts.older);
  let epoch: FileVerifyResult | null = null;
  try {
    checker = new LogChecker(note === null ? null : openCheckpoint(note, opts.publicKey), opts.older);
    const reader = new RecordReader(records);
    if ((await reader.peek())?.kind === 'epoch') {
      epoch = await verifyEvents(reader.epochEvents(), opts.anchors ?? [], opts.publicKey, { complete: opts.complete ?? false, checkTail: false });
      if (!epoch.ok) return { ok: false, epoch, log: checker.part(false), failedAt: `seq ${epoch.firstBadSeq ?? '?'}`, reason: epoch.reason };
    }
    await checkLogRecords(reader, checker, note);
    checker.finish(format === 'ndjson');
    return { ok: true, epoch, log: checker.part(note !== null && opts.publicKey !== undefined) };
  } catch (err) {
    const failure = err instanceof Failure ? err : isRecordError(err) ? new Failure(recordAt(err), err.message) : null;
    if (!failure) throw err;
    return { ok: false, epoch, log: checker.part(false), ...(failure.at ? { failedAt: failure.at } : {}), reason: failure.message };
  } finally {
    await records.return(undefined);
  }
}

function recordAt(err: Error & { logSeq?: number; seq?: number }): string | null {
  if ('logSeq' in err) return at(err.logSeq);
  return err.seq === undefined ? null : `seq ${err.seq}`;
}

async function checkLogRecords(reader: RecordReader, checker: LogChecker, tailNote: string | null): Promise<void> {
  while (await reader.fill()) {
    for (let rec = reader.take(); rec; rec = reader.take()) {
      if (rec.kind === 'sealed') {
        checker.feedSealed(rec);
      } else if (rec.kind === 'log') {
        checker.feed(rec.event, rec.proof, rec.canonical);
      } else if (rec.kind === 'epoch') {
        throw new Failure(`seq ${rec.event.seq}`, `event seq ${rec.event.seq} of the single chain comes after per-log events`);
      } else {
        if (reader.take() ?? await reader.peek()) throw new Failure(at(checker.lastLogSeq + 1), 'a checkpoint line is followed by more lines: it must be the last');
        if (rec.note !== tailNote) throw new Failure(null, 'the export carries a second, different checkpoint');
      }
    }
  }
}

/** One-record lookahead over the file's record batches, so the epoch part can stop where per-log events begin. */
class RecordReader {
  #batch: ExportRecord[] = [];
  #index = 0;
  /** A malformed per-log record met while reading epoch events, reported by the per-log pass. */
  #deferred: Error | null = null;
  constructor(readonly batches: AsyncGenerator<ExportRecord[]>) {}

  /** True when a record is ready to take; false at the end of the file. */
  async fill(): Promise<boolean> {
    if (this.#deferred) throw this.#deferred;
    while (this.#index >= this.#batch.length) {
      const r = await this.batches.next();
      if (r.done) return false;
      this.#batch = r.value;
      this.#index = 0;
    }
    return true;
  }

  /** The next record of the current batch, without waiting; null when the batch is used up. */
  take(): ExportRecord | null {
    return this.#index < this.#batch.length ? this.#batch[this.#index++]! : null;
  }

  async peek(): Promise<ExportRecord | null> {
    return (await this.fill()) ? this.#batch[this.#index]! : null;
  }

  /** Epoch events up to the first other record. */
  async* epochEvents(): AsyncGenerator<AuditEvent> {
    for (;;) {
      let rec: ExportRecord | null;
      try {
        rec = await this.peek();
      } catch (err) {
        if (!(err instanceof LogRecordError)) throw err;
        this.#deferred = err;
        return;
      }
      if (rec?.kind !== 'epoch') return;
      this.#index += 1;
      yield rec.event;
    }
  }
}
