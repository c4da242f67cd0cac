import type { Knex } from 'knex';
import { ensureAnchorKey } from './anchors.js';
import { signCheckpoint } from './checkpoint.js';
import type { CheckpointSource } from './log-export.js';
import type { AuditLogRef } from './logs.js';
import { rootHash } from './merkle.js';
import { PgSubtreeStore } from './subtrees.js';

/**
 * Checkpoints for exports: the log's root at the exported size, from its stored subtrees, signed
 * with the anchor key under the log's origin. The verifier trusts none of the subtree rows: an
 * export whose events do not produce this root fails verification.
 */
export function signingCheckpoints(db: Knex, anchorKey: { readonly file: string; readonly generate: boolean }): CheckpointSource {
  return {
    async checkpointAt(log: AuditLogRef, size: number): Promise<string> {
      const [root, key] = await Promise.all([rootHash(new PgSubtreeStore(db, log.logId), size), ensureAnchorKey(anchorKey.file, anchorKey.generate)]);
      return signCheckpoint({ origin: log.origin, size, rootHash: root, time: new Date() }, key.privateKey);
    },
  };
}
