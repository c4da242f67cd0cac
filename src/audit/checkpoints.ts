import { advisoryLockKey } from '../db/locks.js';
import type { Knex } from 'knex';
import type { ObjectStore } from '../storage/types.js';
import { actorFields, auditActor } from './actor.js';
import { ensureAnchorKey, isAnchored, lockedUntil, storeAnchor, type AnchorKey } from './anchors.js';
import { prepareEvent } from './chain.js';
import { CheckpointError, signCheckpoint, verifyCheckpoint } from './checkpoint.js';
import { appendToLog } from './log-append.js';
import { LogIntegrityError, logSize, recomputeLog, type LogPrefix, type LogState } from './log-check.js';
import { IntervalWorker } from '../workers/interval-worker.js';
import { closeEpoch, listLogs, type AuditLogRef, type AuditLogRegistry } from './logs.js';
import { rangeSubtrees, rootHash } from './merkle.js';
import { compactFromSubtrees } from './merkle-compact.js';
import { MissingSubtreeError, PgSubtreeStore } from './subtrees.js';

/**
 * Signed checkpoints of the per-tenant logs (docs/audit.md, "Checkpoints"): every signed tree
 * head goes to audit_log_heads and to the object store under Object Lock. Before signing, the
 * log is recomputed from its events and must reproduce the newest signed head: the vault never
 * signs a checkpoint that contradicts one it signed before, and an edited event (even with every
 * later hash recomputed) stops signing and is reported.
 */

export const CHECKPOINT_PREFIX = 'audit-checkpoints/';
/** First key of the lock that serialises the signers of one log; the second is log_id. */
const CHECKPOINT_LOCK_CLASS = advisoryLockKey('audit.checkpoint');
/** How long a signer waits for another signer of the same log before failing. */
const SIGNER_LOCK_TIMEOUT_MS = 30_000;

export interface StoredCheckpoint {
  readonly logId: number;
  readonly size: number;
  readonly rootHash: Buffer;
  /** The chain hash of event `size`. */
  readonly lastHash: string;
  readonly signedAt: Date;
  /** The signed note, exactly as served and stored. */
  readonly checkpoint: string;
}

/** The log as stored no longer reproduces a checkpoint the vault signed: history was rewritten. */
export class CheckpointConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointConflictError';
  }
}

interface HeadRow { log_id: number; size: string; root_hash: Buffer; last_hash: string; signed_at: Date; checkpoint: string }

const HEAD_COLUMNS = ['log_id', 'size', 'root_hash', 'last_hash', 'signed_at', 'checkpoint'];

function toCheckpoint(row: HeadRow): StoredCheckpoint {
  return {
    logId: row.log_id, size: Number(row.size), rootHash: row.root_hash, lastHash: row.last_hash, signedAt: row.signed_at, checkpoint: row.checkpoint,
  };
}

export function checkpointObjectKey(logId: number, size: number): string {
  return `${CHECKPOINT_PREFIX}${logId}/${String(size).padStart(20, '0')}`;
}

export interface CheckpointDeps {
  readonly db: Knex;
  readonly store: ObjectStore;
  readonly logs: AuditLogRegistry;
  readonly anchorKeyFile: string;
  readonly generateAnchorKey?: boolean;
}

/** One log as `verifyAll` found it. */
export interface LogCheck {
  readonly origin: string;
  readonly size: number;
  /** Size of its newest signed checkpoint (0: none yet). */
  readonly checkpointSize: number;
  readonly ok: boolean;
  readonly reason?: string;
}

export interface AnchorPassResult {
  readonly signed: readonly { readonly origin: string; readonly checkpoint: StoredCheckpoint }[];
  readonly failed: readonly { readonly origin: string; readonly error: Error }[];
}

export class AuditCheckpoints {
  readonly #signing = new Map<number, Promise<unknown>>();

  constructor(private readonly deps: CheckpointDeps) {}

  /** The newest signed checkpoint of a log, or null when none was signed yet. */
  async latest(logId: number, db: Knex = this.deps.db): Promise<StoredCheckpoint | null> {
    const row = await db('audit_log_heads').where('log_id', logId).orderBy('size', 'desc').first<HeadRow | undefined>(db.raw(HEAD_COLUMNS.join(', ')));
    return row ? toCheckpoint(row) : null;
  }

  /** The checkpoint of a log at exactly `size`, if one was signed. */
  async atSize(logId: number, size: number, db: Knex = this.deps.db): Promise<StoredCheckpoint | null> {
    const row = await db('audit_log_heads').where({ log_id: logId, size }).first<HeadRow | undefined>(db.raw(HEAD_COLUMNS.join(', ')));
    return row ? toCheckpoint(row) : null;
  }

  /**
   * A signed checkpoint of `log` at `size` (default: its current size): the stored one if there is
   * one, else newly signed. Null for an empty log. Throws CheckpointConflictError when the stored
   * log does not reproduce the newest signed head. `incremental` checks only what was appended
   * since that head (see checkedState): for checkpoints signed on a request's path.
   */
  async checkpoint(log: AuditLogRef, size?: number, check: 'full' | 'incremental' = 'full'): Promise<StoredCheckpoint | null> {
    if (size !== undefined) {
      const stored = await this.atSize(log.logId, size);
      if (stored) return stored;
    }
    // Signers of one log in this process queue here, holding no connection while they wait.
    const previous = this.#signing.get(log.logId) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => this.sign(log, size, check));
    const tail = mine.catch(() => undefined);
    this.#signing.set(log.logId, tail);
    void tail.then(() => { if (this.#signing.get(log.logId) === tail) this.#signing.delete(log.logId); });
    return mine;
  }

  private async sign(log: AuditLogRef, size: number | undefined, check: 'full' | 'incremental'): Promise<StoredCheckpoint | null> {
    const key = await this.key();
    return this.deps.db.transaction(async (trx) => {
      // Recomputing a large log is one long read; waiting for another signer of the log is bounded.
      await trx.raw(`SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = ${SIGNER_LOCK_TIMEOUT_MS}`);
      await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [CHECKPOINT_LOCK_CLASS, log.logId]);
      const target = size ?? await logSize(trx, log.logId);
      if (target === 0) return null;
      const existing = await this.atSize(log.logId, target, trx);
      if (existing) return existing;
      const newest = await this.latest(log.logId, trx);
      const state = await this.checkedState(trx, log, key, target, newest, check === 'full');
      const signedAt = new Date();
      const note = signCheckpoint({ origin: log.origin, size: target, rootHash: state.rootHash, time: signedAt }, key.privateKey);
      // The object first: a head in the table always has its copy outside the database.
      await this.deps.store.put(checkpointObjectKey(log.logId, target), Buffer.from(note, 'utf8'), { retainUntil: lockedUntil(signedAt) });
      const row = { log_id: log.logId, size: target, root_hash: state.rootHash, last_hash: state.lastHash, signed_at: signedAt, checkpoint: note };
      await trx('audit_log_heads').insert(row);
      return toCheckpoint({ ...row, size: String(target) });
    });
  }

  /**
   * The anchoring pass (hourly, and `callvault audit anchor`): closes the single chain and signs
   * its anchor if that is still to do, records an `audit.anchored` event in the system log, and
   * signs a checkpoint of every log that grew. A scheduled pass with nothing new does nothing.
   * One log's failure does not stop the others; it is returned.
   */
  async anchor(trigger: 'manual' | 'scheduled'): Promise<AnchorPassResult> {
    const { db, logs } = this.deps;
    const key = await this.key();
    await this.anchorEpoch(key);
    const grown = await this.grownLogs();
    if (trigger === 'scheduled' && grown.length === 0) return { signed: [], failed: [] };
    const system = await logs.resolve(null);
    await db.transaction((trx) => appendToLog(trx, system, [prepareEvent({
      tenant: null, ...actorFields(auditActor('system:audit-anchor')), action: 'audit.anchored', outcome: 'allowed',
      details: { trigger, keyId: key.keyId, logs: grown.filter((l) => l.logId !== system.logId).length },
    }, new Date())]));
    const toSign = [...grown.filter((l) => l.logId !== system.logId), system];
    const signed: { origin: string; checkpoint: StoredCheckpoint }[] = [];
    const failed: { origin: string; error: Error }[] = [];
    for (const log of toSign) {
      try {
        const checkpoint = await this.checkpoint(log);
        if (checkpoint) signed.push({ origin: log.origin, checkpoint });
      } catch (error) {
        failed.push({ origin: log.origin, error: error as Error });
      }
    }
    return { signed, failed };
  }

  /**
   * Every log recomputed in full from its events and compared with its newest signed checkpoint
   * (`callvault audit verify` without a file). Read-only: nothing is signed.
   */
  async verifyAll(): Promise<LogCheck[]> {
    const key = await this.key();
    const results: LogCheck[] = [];
    for (const log of await listLogs(this.deps.db)) {
      const size = await logSize(this.deps.db, log.logId);
      const newest = await this.latest(log.logId);
      try {
        if (newest && newest.size > size) throw new CheckpointConflictError(`${log.origin}: the log ends at ${size} but its checkpoint of size ${newest.size} was signed: events were removed`);
        await this.checkedState(this.deps.db, log, key, size, newest, true);
        results.push({ origin: log.origin, size, checkpointSize: newest?.size ?? 0, ok: true });
      } catch (err) {
        if (!(err instanceof CheckpointConflictError) && !(err instanceof CheckpointError) && !(err instanceof MissingSubtreeError)) throw err;
        results.push({ origin: log.origin, size, checkpointSize: newest?.size ?? 0, ok: false, reason: err.message });
      }
    }
    return results;
  }

  private async key(): Promise<AnchorKey> {
    return ensureAnchorKey(this.deps.anchorKeyFile, this.deps.generateAnchorKey ?? false);
  }

  /**
   * The state at `target`, after proving that the stored log still reproduces `newest`. In full,
   * every event is recomputed (the hourly and manual passes: an edited event anywhere is found).
   * Incrementally (on demand, e.g. after an export), only the events after `newest`: the stored
   * subtrees must fold to its signed root and its last event must still carry its hash, which
   * catches a re-chained history; an event edited without re-chaining is left to the full pass
   * and to every verifier of its proof.
   */
  private async checkedState(db: Knex, log: AuditLogRef, key: AnchorKey, target: number, newest: StoredCheckpoint | null, full: boolean): Promise<LogState> {
    if (newest) {
      // The table's copy of the head must be the note the key signed, for this log.
      const signed = verifyCheckpoint(newest.checkpoint, key.publicKey, log.origin);
      if (signed.size !== newest.size || !signed.rootHash.equals(newest.rootHash)) {
        throw new CheckpointConflictError(`${log.origin}: the stored head at size ${newest.size} differs from its signed note`);
      }
    }
    const subtrees = new PgSubtreeStore(db, log.logId);
    const prefix = !full && newest && newest.size <= target ? await this.signedPrefix(log, subtrees, newest) : undefined;
    const upTo = Math.max(target, newest?.size ?? 0);
    let states: Map<number, LogState>;
    try {
      states = await recomputeLog(db, log, upTo, newest ? [newest.size, target] : [target], prefix);
    } catch (err) {
      if (err instanceof LogIntegrityError) throw new CheckpointConflictError(err.message);
      throw err;
    }
    if (newest) {
      const now = states.get(newest.size);
      if (!now || !now.rootHash.equals(newest.rootHash) || now.lastHash !== newest.lastHash) {
        throw new CheckpointConflictError(`${log.origin}: the log no longer matches its checkpoint of size ${newest.size} signed at ${newest.signedAt.toISOString()}: history was rewritten`);
      }
    }
    const state = states.get(target);
    if (!state) throw new CheckpointConflictError(`${log.origin}: the log has fewer than ${target} events`);
    // Proofs are served from the subtree table: it must agree with the events before its root is signed.
    if (!(await rootHash(subtrees, target)).equals(state.rootHash)) {
      throw new CheckpointConflictError(`${log.origin}: the stored subtree hashes do not reproduce the root of the events at size ${target}`);
    }
    return state;
  }

  /** The tree of the newest signed head, rebuilt from the stored subtrees, which must fold to its root. */
  private async signedPrefix(log: AuditLogRef, subtrees: PgSubtreeStore, newest: StoredCheckpoint): Promise<LogPrefix> {
    const refs = rangeSubtrees(0, newest.size);
    const tree = compactFromSubtrees(newest.size, refs, [...await subtrees.getSubtrees(refs)]);
    if (!tree.root().equals(newest.rootHash)) {
      throw new CheckpointConflictError(`${log.origin}: the stored subtrees no longer fold to the checkpoint of size ${newest.size}: history was rewritten`);
    }
    return { size: newest.size, lastHash: newest.lastHash, tree };
  }

  /** Logs with events beyond their newest checkpoint (two index probes per log, one query). */
  private async grownLogs(): Promise<AuditLogRef[]> {
    const { db } = this.deps;
    const grown = new Set((await db.raw<{ rows: { log_id: number }[] }>(`
      SELECT l.log_id FROM audit_logs l
       WHERE (SELECT max(e.log_seq) FROM audit_events e WHERE e.log_id = l.log_id)
           > coalesce((SELECT max(h.size) FROM audit_log_heads h WHERE h.log_id = l.log_id), 0)`)).rows.map((r) => r.log_id));
    return (await listLogs(db)).filter((l) => grown.has(l.logId));
  }

  /** The single chain's last anchor: over the epoch event, signed once. */
  private async anchorEpoch(key: AnchorKey): Promise<void> {
    const { db, store } = this.deps;
    const { seq: epochSeq } = await closeEpoch(db);
    if (await isAnchored(store, epochSeq)) return;
    const row = await db('audit_events').where('seq', epochSeq).first<{ hash: string }>('hash');
    await storeAnchor(store, key, { seq: epochSeq, hash: row.hash });
  }
}

/**
 * The hourly pass (AUDIT_ANCHOR_INTERVAL), first run after one interval. A log that failed is
 * reported through onError (a rewritten history among them) and the schedule goes on.
 */
export function startCheckpointSchedule(checkpoints: AuditCheckpoints, intervalMs: number, onError: (err: unknown) => void): { stop(): Promise<void> } {
  const pass = async (): Promise<AnchorPassResult> => {
    const result = await checkpoints.anchor('scheduled');
    for (const { error } of result.failed) onError(error);
    return result;
  };
  return new IntervalWorker('audit-anchor', intervalMs, pass, onError, { delayFirst: true }).start();
}
