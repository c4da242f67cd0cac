import type { AuditActor } from '../audit/actor.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { countUsing } from '../recordings/key-queries.js';
import { KEY_VERSION_STATE } from './versions.js';
import { localProvider, rotationEvent, type RotationDeps } from './rotation.js';

/**
 * Retiring a local master key version, in steps that no upload in flight and no replica can
 * slip past (the barrier is described in versions.ts):
 *
 *   1. the first `keys retire --version N` marks vN 'retiring' with retire_after = now + grace.
 *      vN is not active, so no replica wraps a new data key under it; an upload that did so
 *      before the rotation reached it may still commit until retire_after;
 *   2. until retire_after, retire only says how long is left. The grace is longer than the
 *      longest request (HTTP_REQUEST_TIMEOUT_MS plus a margin), so by then every such upload has
 *      committed or failed; an upload still trying later is refused at its commit;
 *   3. after it, `keys rewrap` moves what committed meanwhile, and retire counts the data keys
 *      still under vN with the version row locked: any left, it refuses; none, vN becomes
 *      'retired' in the same transaction and its file is deleted.
 * Each run picks up where the last stopped; a retired version whose file survived a failed
 * delete has it deleted by the next run.
 */
export type RetireOutcome =
  | { readonly state: 'retired'; readonly keyRef: string }
  | { readonly state: 'retiring'; readonly keyRef: string; readonly retireAfter: Date; readonly started: boolean };

export async function retireMasterVersion(deps: RotationDeps, version: number, actor: AuditActor, opts: { graceMs: number }): Promise<RetireOutcome> {
  const provider = localProvider(deps);
  const keyRef = `local:v${version}`;
  // Before any upload recorded an active version, the newest file is the active one.
  await deps.keyVersions.adoptActive(provider.currentKeyRef());
  const recorded = await deps.keyVersions.get(keyRef);
  if (!recorded && !provider.versions().includes(version)) throw new NotFoundError(`There is no master key ${keyRef}`, 'master_key_not_found');
  if (recorded?.state === KEY_VERSION_STATE.active) throw new ConflictError(`Master key ${keyRef} is the active version and cannot be retired; rotate first`, 'master_key_current');
  if (recorded?.state === KEY_VERSION_STATE.retired) {
    await provider.retire(version);
    return { state: 'retired', keyRef };
  }
  if (!recorded || recorded.state === KEY_VERSION_STATE.inactive) {
    const row = await deps.keyVersions.startRetiring(keyRef, opts.graceMs);
    await deps.audit.record(rotationEvent(actor, null, { operation: 'retire_started', keyRef, retireAfter: row.retireAfter?.toISOString() ?? null }));
    return retiringOrRetired(row.state, keyRef, row.retireAfter, true);
  }
  if (!(await deps.keyVersions.gracePassed(keyRef))) return retiringOrRetired(recorded.state, keyRef, recorded.retireAfter, false);
  await deps.db.transaction(async (trx) => {
    const locked = await deps.keyVersions.lockForRetire(keyRef, trx);
    if (locked?.state !== KEY_VERSION_STATE.retiring) throw new ConflictError(`Master key ${keyRef} changed state meanwhile (${locked?.state ?? 'gone'}); run retire again`, 'master_key_state_changed');
    const inUse = await countUsing(trx, keyRef);
    if (inUse > 0) {
      throw new ConflictError(`${inUse} recording(s) still have data keys wrapped under ${keyRef}; run \`callvault keys rewrap\`, then \`callvault keys retire --version ${version}\` again`, 'master_key_in_use');
    }
    await deps.keyVersions.markRetired(keyRef, trx);
    await deps.audit.record(rotationEvent(actor, null, { operation: 'retire', keyRef }), trx);
  });
  await provider.retire(version);
  return { state: 'retired', keyRef };
}

function retiringOrRetired(state: string, keyRef: string, retireAfter: Date | null, started: boolean): RetireOutcome {
  if (state !== KEY_VERSION_STATE.retiring || !retireAfter) throw new ConflictError(`Master key ${keyRef} is ${state}, not retiring; run retire again`, 'master_key_state_changed');
  return { state: 'retiring', keyRef, retireAfter, started };
}
