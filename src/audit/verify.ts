import type { KeyObject } from 'node:crypto';
import type { Db } from '../db/knex.js';
import type { ObjectStore } from '../storage/types.js';
import { anchorSignatureProblem, loadAnchors, loadPublicKey } from './anchors.js';
import { hashEvent } from './canonical.js';
import { readExportFile } from './parse.js';
import { AuditRecordError, EVENT_COLUMNS, streamEvents } from './rows.js';
import { GENESIS_HASH, type Anchor, type AuditEvent, type VerifyResult } from './types.js';

export interface VerifyOptions {
  /**
   * The events are the whole log: they must start at seq 1 without gaps, and no anchor may
   * attest a seq beyond the last one (a removed tail). Off for filtered exports, where gaps are
   * expected and each event is checked on its own plus its link to a directly preceding event.
   */
  readonly complete?: boolean;
  /**
   * An anchor beyond the last event means events were removed. Defaults to `complete`; off for
   * export files, which may simply be older than the newest anchor.
   */
  readonly checkTail?: boolean;
}

export interface FileVerifyResult extends VerifyResult {
  /** Places where the file skips seqs (filtered exports have many; full ones none). */
  gaps: number;
  firstSeq: number;
  /** Anchors attesting seqs after the last event checked (not matched). */
  anchorsAfterEnd: number;
}

type Keys = KeyObject | readonly KeyObject[] | undefined;

class Failure extends Error {
  constructor(readonly seq: number | undefined, reason: string) { super(reason); }
}

function checkAnchors(anchors: readonly Anchor[], publicKey: Keys): Map<number, Anchor[]> {
  const keys = publicKey === undefined ? [] : Array.isArray(publicKey) ? publicKey : [publicKey as KeyObject];
  const bySeq = new Map<number, Anchor[]>();
  for (const anchor of anchors) {
    const where = anchor.source ?? `at seq ${anchor.seq}`;
    if (keys.length === 0) throw new Failure(anchor.seq, `anchor ${where} cannot be checked: no anchor public key was given`);
    const problem = anchorSignatureProblem(anchor, keys);
    if (problem) throw new Failure(anchor.seq, `anchor ${where}: ${problem}`);
    bySeq.set(anchor.seq, [...(bySeq.get(anchor.seq) ?? []), anchor]);
  }
  return bySeq;
}

/**
 * Recomputes every event's hash, checks each link to the event before it, and matches signed
 * anchors. Stops at the first problem and names its seq.
 */
export async function verifyEvents(events: AsyncIterable<AuditEvent>, anchors: readonly Anchor[], publicKey?: Keys, opts: VerifyOptions = {}): Promise<FileVerifyResult> {
  const state = { checked: 0, anchorsMatched: 0, lastSeq: 0, firstSeq: 0, gaps: 0 };
  let prev: AuditEvent | null = null;
  try {
    const anchorsBySeq = checkAnchors(anchors, publicKey);
    for await (const e of events) {
      checkLink(prev, e, opts.complete ?? false, state);
      let hash: string;
      try {
        hash = hashEvent(e);
      } catch (err) {
        throw new Failure(e.seq, `event ${e.seq} cannot be encoded: ${(err as Error).message}`);
      }
      if (hash !== e.hash) throw new Failure(e.seq, `event ${e.seq} was altered: its hash does not match its content`);
      for (const anchor of anchorsBySeq.get(e.seq) ?? []) {
        if (anchor.hash !== e.hash) throw new Failure(e.seq, `event ${e.seq} does not match the anchor signed at ${anchor.at}: history was rewritten`);
        state.anchorsMatched += 1;
      }
      if (state.checked === 0) state.firstSeq = e.seq;
      state.checked += 1;
      state.lastSeq = e.seq;
      prev = e;
    }
    if (opts.checkTail ?? opts.complete) checkTail(anchors, state.lastSeq);
    return { ok: true, ...state, anchorsAfterEnd: anchors.filter((a) => a.seq > state.lastSeq).length };
  } catch (err) {
    if (!(err instanceof Failure) && !(err instanceof AuditRecordError)) throw err;
    return { ok: false, ...state, anchorsAfterEnd: 0, firstBadSeq: err.seq ?? state.lastSeq + 1, reason: err.message };
  }
}

function checkLink(prev: AuditEvent | null, e: AuditEvent, complete: boolean, state: { gaps: number }): void {
  if (!prev) {
    if (complete && e.seq !== 1) throw new Failure(1, `the log starts at seq ${e.seq}: events 1..${e.seq - 1} are missing`);
    if (e.seq === 1 && e.prevHash !== GENESIS_HASH) throw new Failure(1, 'event 1 does not start from the genesis hash');
    return;
  }
  if (e.seq <= prev.seq) throw new Failure(e.seq, `seq ${e.seq} follows seq ${prev.seq}: events are out of order or repeated`);
  if (e.seq === prev.seq + 1) {
    if (e.prevHash !== prev.hash) throw new Failure(e.seq, `event ${e.seq} does not link to event ${prev.seq}: its prevHash differs`);
    return;
  }
  if (complete) throw new Failure(prev.seq + 1, `events ${prev.seq + 1}..${e.seq - 1} are missing`);
  state.gaps += 1;
}

function checkTail(anchors: readonly Anchor[], lastSeq: number): void {
  const newest = anchors.reduce<Anchor | undefined>((a, b) => (a && a.seq >= b.seq ? a : b), undefined);
  if (newest && newest.seq > lastSeq) {
    throw new Failure(lastSeq + 1, `the log ends at seq ${lastSeq} but an anchor signed at ${newest.at} attests seq ${newest.seq}: events ${lastSeq + 1}..${newest.seq} were removed`);
  }
}

async function loadKeys(publicKeyFile: string | undefined): Promise<KeyObject | undefined> {
  return publicKeyFile === undefined ? undefined : loadPublicKey(publicKeyFile);
}

/**
 * The single chain (the events without a log: the epoch before per-tenant logs, closed by its
 * epoch event), against every anchor in the store. Per-tenant logs are checked against their
 * checkpoints (checkpoints.ts).
 */
export async function verifyTable(db: Db, store: ObjectStore | undefined, publicKeyFile?: string): Promise<FileVerifyResult> {
  let anchors: Anchor[];
  try {
    anchors = store ? await loadAnchors(store) : [];
  } catch (err) {
    return { ok: false, checked: 0, anchorsMatched: 0, lastSeq: 0, firstSeq: 0, gaps: 0, anchorsAfterEnd: 0, reason: (err as Error).message };
  }
  const key = await loadKeys(publicKeyFile);
  const events = streamEvents(db, (trx) => trx('audit_events').select(trx.raw(EVENT_COLUMNS)).whereNull('log_id').orderBy('audit_events.seq', 'asc'));
  return verifyEvents(events, anchors, key, { complete: true });
}

/** An export file (NDJSON or CSV), offline. `complete` for a full, unfiltered export. */
export async function verifyExportFile(file: string, anchors: readonly Anchor[], publicKey?: Keys, opts: VerifyOptions = {}): Promise<FileVerifyResult> {
  return verifyEvents(readExportFile(file), anchors, publicKey, { checkTail: false, ...opts });
}
