import type { AppendedEvent, LogHead } from './log-append.js';

/**
 * Where this process last saw each log it writes end: the head and Merkle frontier after its
 * own appends, and the last event about recently seen recordings. A hint only: an append made
 * with it checks, under the log's lock and in the same statement, that the log still ends there
 * and that each recording's last event is the one assumed, and writes nothing otherwise. So a
 * stale entry (another replica appended, or a transaction that recorded rolled back) costs one
 * round trip, never a wrong event.
 */
export class LogHeads {
  readonly #heads = new Map<number, LogHead>();
  /** `logId recordingId` → log_seq of the last event about it, oldest first (evicted first). */
  readonly #recordings = new Map<string, number>();

  constructor(private readonly maxRecordings = 50_000) {}

  /** A copy of the known head of `logId`, for an append to extend. */
  head(logId: number): LogHead | undefined {
    const head = this.#heads.get(logId);
    return head && { size: head.size, hash: head.hash, frontier: new Map(head.frontier) };
  }

  /** The last event about each recording, as far as known; one not listed is assumed to have none. */
  recordingPrev(logId: number, recordingIds: Iterable<string>): Map<string, number> {
    const known = new Map<string, number>();
    for (const id of recordingIds) {
      const seq = this.#recordings.get(recordingKey(logId, id));
      if (seq !== undefined) known.set(id, seq);
    }
    return known;
  }

  /**
   * Remembers the log's head after `events` were appended, unless a longer one is known: heads of
   * one log only grow, and appends of concurrent transactions may report their commits out of order.
   */
  advance(logId: number, head: LogHead, events: readonly AppendedEvent[]): void {
    const known = this.#heads.get(logId);
    if (!known || head.size >= known.size) this.#heads.set(logId, { size: head.size, hash: head.hash, frontier: new Map(head.frontier) });
    for (const e of events) if (e.recordingId !== null) this.#remember(recordingKey(logId, e.recordingId), e.logSeq);
  }

  /** Drops what is known of `logId`'s head, after a failed append whose outcome is unknown. */
  forget(logId: number): void {
    this.#heads.delete(logId);
  }

  #remember(key: string, logSeq: number): void {
    const known = this.#recordings.get(key);
    if (known !== undefined && known >= logSeq) return;
    this.#recordings.delete(key);
    this.#recordings.set(key, logSeq);
    if (this.#recordings.size > this.maxRecordings) {
      const oldest = this.#recordings.keys().next();
      if (!oldest.done) this.#recordings.delete(oldest.value);
    }
  }
}

const recordingKey = (logId: number, recordingId: string): string => `${logId} ${recordingId}`;
