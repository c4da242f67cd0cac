import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import type { Db } from '../db/knex.js';
import { BadRequestError } from '../errors.js';
import { KeyAccessError } from './errors.js';
import type { TenantStore } from '../tenants/store.js';
import { mapLimit } from '../lib/map-limit.js';
import { keysNotUnder, replaceSealedWrappedKey, replaceWrappedKey, sealedKeysNotUnder, tenantsWithKeys, type WrappedKeyRow } from '../recordings/key-queries.js';
import { LocalKeyProvider } from './local.js';
import type { KeyProvider } from './types.js';
import type { KeyVersionStore } from './versions.js';

/**
 * Key rotation without touching a single object. Rotation adds a master key (a new local
 * version, or a tenant's new KMS key); rewrap then re-wraps every data key in the database under
 * the current master (KMS ReEncrypt for aws-kms: the plaintext data key never leaves KMS), the
 * recordings' and those of sealed originals alike, and a
 * local version that no row uses any more can be retired (retire.ts). Rewrap is resumable: it only picks rows
 * whose key_ref is not the target yet, and each row is updated on its own, compare-and-set on the
 * wrapped key it read, so a key destroyed meanwhile by an erasure is never brought back.
 */
export interface RotationDeps {
  readonly db: Db;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly tenants: Pick<TenantStore, 'get' | 'update'>;
  /** The provider data keys go through (instrumented). */
  readonly keys: KeyProvider;
  /** The same provider, unwrapped, for rotate and retire. */
  readonly keyAdmin: KeyProvider;
  /** Which local master key version is active, retiring or retired (src/keys/versions.ts). */
  readonly keyVersions: KeyVersionStore;
  readonly logger?: { warn(obj: object, msg: string): void };
}

export function rotationEvent(actor: AuditActor, tenant: string | null, details: Record<string, unknown>): AuditEventInput {
  return {
    tenant, ...actorFields(actor), action: 'keys.rotated', outcome: 'allowed', details,
  };
}

export function localProvider(deps: Pick<RotationDeps, 'keyAdmin'>): LocalKeyProvider {
  if (!(deps.keyAdmin instanceof LocalKeyProvider)) {
    throw new BadRequestError('With KEY_PROVIDER=aws-kms, rotate the KMS key in KMS (automatic rotation keeps its id), or give a tenant a new key with --tenant and --kms-key-id', 'rotation_not_local');
  }
  return deps.keyAdmin;
}

/**
 * Adds master v<N+1> and records it as the active version: every replica wraps new data keys
 * under it from its next upload on. Existing data keys keep working until rewrapped.
 */
export async function rotateMasterKey(deps: RotationDeps, actor: AuditActor, tenant: string | null = null): Promise<{ keyRef: string; previous: string }> {
  const provider = localProvider(deps);
  const fallback = provider.currentKeyRef();
  const keyRef = await provider.rotate();
  return deps.db.transaction(async (trx) => {
    const previous = (await deps.keyVersions.activate(keyRef, trx)) ?? fallback;
    await deps.audit.record(rotationEvent(actor, tenant, { operation: 'rotate', provider: 'local', keyRef, previous }), trx);
    return { keyRef, previous };
  });
}

/** Records a tenant's own KMS key (BYOK): new data keys use it at once; rewrap moves the old ones. */
export async function setTenantKmsKey(deps: RotationDeps, tenant: string, kmsKeyId: string, actor: AuditActor): Promise<{ kmsKeyId: string; previous: string | null }> {
  if (deps.keys.kind !== 'aws-kms') throw new BadRequestError('A tenant KMS key needs KEY_PROVIDER=aws-kms', 'kms_not_configured');
  if (!/^[A-Za-z0-9:/_+=,.@-]{1,2048}$/.test(kmsKeyId)) throw new BadRequestError('kmsKeyId is not a KMS key id, ARN or alias', 'invalid_kms_key_id');
  await probeKey(deps.keys, tenant, kmsKeyId);
  return deps.db.transaction(async (trx) => {
    const before = await deps.tenants.get(tenant, trx);
    await deps.tenants.update(tenant, { kmsKeyId }, trx);
    await deps.audit.record(rotationEvent(actor, tenant, { operation: 'tenant_kms_key', kmsKeyId, previous: before.kmsKeyId }), trx);
    return { kmsKeyId, previous: before.kmsKeyId };
  });
}

/**
 * Uploads of the tenant will need GenerateDataKey on the new key: prove it works before any
 * upload depends on it, rather than after.
 */
async function probeKey(keys: KeyProvider, tenant: string, kmsKeyId: string): Promise<void> {
  let probe;
  try {
    probe = await keys.generateDataKey({ tenant, recordingId: PROBE_RECORDING_ID }, { masterKeyId: kmsKeyId });
  } catch (err) {
    if (!(err instanceof KeyAccessError)) throw err;
    throw new BadRequestError('The vault cannot generate data keys with this KMS key (missing, disabled or not granted to the vault)', 'kms_key_unusable');
  }
  probe.plaintext.fill(0);
}

const PROBE_RECORDING_ID = '00000000-0000-0000-0000-000000000000';

export interface RewrapOptions {
  readonly tenant?: string;
  readonly batchSize?: number;
  readonly concurrency?: number;
  readonly onProgress?: (p: { tenant: string; rewrapped: number; failed: number }) => void;
}

export interface TenantRewrap { readonly tenant: string; readonly keyRef: string; readonly rewrapped: number; readonly failed: number }
export interface RewrapResult { readonly rewrapped: number; readonly failed: number; readonly tenants: TenantRewrap[] }

export async function rewrapDataKeys(deps: RotationDeps, actor: AuditActor, opts: RewrapOptions = {}): Promise<RewrapResult> {
  const tenants = opts.tenant ? [opts.tenant] : await tenantsWithKeys(deps.db);
  const results: TenantRewrap[] = [];
  for (const tenant of tenants) {
    const result = await rewrapTenant(deps, tenant, opts);
    results.push(result);
    await deps.audit.record(rotationEvent(actor, tenant, { operation: 'rewrap', keyRef: result.keyRef, rewrapped: result.rewrapped, failed: result.failed }));
  }
  return { rewrapped: sum(results, 'rewrapped'), failed: sum(results, 'failed'), tenants: results };
}

/** Where a tenant keeps data keys: the recordings, and the sealed originals of its pii redactions. */
interface KeySource {
  page(db: Db, tenant: string, keyRef: string, after: string, limit: number): Promise<Array<WrappedKeyRow & { readonly recordingId?: string }>>;
  replace(db: Db, tenant: string, id: string, expected: Buffer, next: { wrapped: Buffer; keyRef: string }): Promise<boolean>;
}

const KEY_SOURCES: readonly KeySource[] = [
  { page: keysNotUnder, replace: replaceWrappedKey },
  { page: sealedKeysNotUnder, replace: replaceSealedWrappedKey },
];

async function rewrapTenant(deps: RotationDeps, tenant: string, opts: RewrapOptions): Promise<TenantRewrap> {
  const settings = await deps.tenants.get(tenant);
  const target = settings.kmsKeyId && deps.keys.kind === 'aws-kms' ? { masterKeyId: settings.kmsKeyId } : undefined;
  // KMS answers with the key's ARN, which may differ from the configured id or alias: learn it.
  const state = {
    keyRef: deps.keys.kind === 'local' ? (await deps.keyVersions.active()) ?? deps.keys.currentKeyRef() : deps.keys.currentKeyRef(target),
    rewrapped: 0,
    failed: 0,
  };
  for (const source of KEY_SOURCES) {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await source.page(deps.db, tenant, state.keyRef, after, opts.batchSize ?? 200);
      if (rows.length === 0) break;
      await mapLimit(rows, opts.concurrency ?? 8, async (r) => {
        const recordingId = r.recordingId ?? r.id;
        try {
          const next = await deps.keys.rewrap(r.wrappedKey, { tenant, recordingId }, r.keyRef, target);
          await source.replace(deps.db, tenant, r.id, r.wrappedKey, next);
          state.keyRef = next.keyRef;
          state.rewrapped++;
        } catch (err) {
          state.failed++;
          deps.logger?.warn({ err, tenant, recordingId }, 'a data key could not be rewrapped; rerun rewrap to retry it');
        }
      });
      after = rows[rows.length - 1]?.id ?? after;
      opts.onProgress?.({ tenant, rewrapped: state.rewrapped, failed: state.failed });
    }
  }
  return { tenant, ...state };
}

function sum(rows: readonly TenantRewrap[], field: 'rewrapped' | 'failed'): number {
  return rows.reduce((n, r) => n + r[field], 0);
}
