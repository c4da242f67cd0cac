import { setTimeout as delay } from 'node:timers/promises';
import { isConnectionError } from '../db/knex.js';
import { DependencyError } from '../errors.js';
import type { RecordingStore } from '../recordings/store.js';
import type { Recording } from '../recordings/types.js';

/**
 * When the connection fails after COMMIT was sent, PostgreSQL may or may not have committed:
 * the reply, not the transaction, is what was lost. Treating that as a failure would delete the
 * object of a recording whose row (and audit event) are durable, and the PBX's retry would then
 * get a receipt for a recording that cannot be played. So the outcome is looked up instead, on a
 * fresh connection, by (tenant, callId), for up to `waitMs` while the database is unreachable.
 */
export interface OutcomeDeps {
  readonly recordings: Pick<RecordingStore, 'findByCallId'>;
  /** How long to keep asking (a few DATABASE_CONNECT_TIMEOUT_MS; see deps.ts). */
  readonly commitOutcomeWaitMs: number;
}

/**
 * The row of this callId as the database now has it (null: none was committed), or a 503 when
 * the database could not be asked in time: then nothing is known, and the caller must keep the
 * object (the orphan sweep removes it later if no row refers to it).
 */
export async function lookUpCommitOutcome(deps: OutcomeDeps, tenant: string, callId: string, cause: unknown): Promise<Recording | null> {
  const deadline = Date.now() + deps.commitOutcomeWaitMs;
  for (let pause = 100; ; pause = Math.min(pause * 2, 1_000)) {
    try {
      return await deps.recordings.findByCallId(tenant, callId);
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + pause > deadline) throw unknownOutcome(cause);
    }
    await delay(pause);
  }
}

function unknownOutcome(cause: unknown): DependencyError {
  return new DependencyError(
    'database',
    'The database stopped answering while the recording was being committed, so whether it was kept is not known yet; retry the upload: the retry answers with the receipt if it was',
    cause,
  );
}
