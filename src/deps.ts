import type { Request, RequestHandler } from 'express';
import type { AuditLog } from './audit/types.js';
import { ensureAnchorKey } from './audit/anchors.js';
import { ChainedAuditLog } from './audit/chain-writer.js';
import { ensureDevSigningKey } from './auth/dev-issuer.js';
import { JwtVerifier, keySourceFromConfig, type TokenVerifier } from './auth/jwt.js';
import { pbxClientCertificateGate } from './auth/pbx-gate.js';
import type { Principal } from './auth/permissions.js';
import type { Config } from './config/config.js';
import { loadSecret } from './config/secrets.js';
import { createDb, type Db } from './db/knex.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createGuards, type ExfiltrationGuard } from './guards/index.js';
import type { Logger } from './http/logger.js';
import { Metrics } from './http/metrics.js';
import type { RequestContext } from './http/secure-router.js';
import { createKeyProvider, DataKeyCache, InstrumentedKeyProvider, type KeyProvider } from './keys/index.js';
import type { AwsKmsKeyProvider, LocalKeyProvider } from './keys/index.js';
import type { IngestDeps } from './recordings/ingest.js';
import { PhoneHasher } from './recordings/phone.js';
import { RecordingStore } from './recordings/store.js';
import { PolicyStore } from './retention/policy-store.js';
import { createObjectStore, FsObjectStore, type ObjectStore } from './storage/index.js';
import { TenantStore } from './tenants/store.js';

/**
 * The composition root: every dependency of the vault is built here, by hand, from the parsed
 * configuration. Nothing else constructs clients or stores.
 */
export interface Guards {
  readonly pbxGate?: (req: Request, ctx: RequestContext) => void;
  readonly onAuthFailure?: (ip: string) => void;
  readonly beforeAuth?: (req: Request) => void;
  /** Per-IP rate limit, mounted ahead of every route (src/guards). */
  readonly ipRateLimit?: RequestHandler;
  /** Per-principal rate limit, applied once a bearer token is verified. */
  readonly principalRateLimit?: (principal: Principal) => void;
  /** Link issuance and redemption budget per issuing principal. */
  readonly exfiltration?: ExfiltrationGuard;
}

export interface Deps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  readonly store: ObjectStore;
  readonly keys: KeyProvider;
  readonly keyCache: DataKeyCache;
  /** The key provider itself, uninstrumented: for rotate and retire (src/keys/rotation.ts). */
  readonly keyAdmin: LocalKeyProvider | AwsKmsKeyProvider;
  readonly audit: AuditLog;
  readonly tokens: TokenVerifier;
  readonly recordings: RecordingStore;
  readonly policies: PolicyStore;
  readonly tenants: TenantStore;
  readonly phones: PhoneHasher;
  readonly linkSigningKey: Buffer;
  readonly ingest: IngestDeps;
  readonly guards: Guards;
  readiness(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface DatabaseHandles {
  readonly url: string;
  readonly adminUrl: string;
  readonly embedded: EmbeddedDatabase | null;
}

/** Resolves DATABASE_URL, starting the embedded server (and migrating it) when none is set. */
export async function openDatabase(config: Config, logger?: Logger): Promise<DatabaseHandles> {
  if (!config.database.embedded && config.database.url) {
    return { url: config.database.url, adminUrl: config.database.adminUrl ?? config.database.url, embedded: null };
  }
  const embedded = await startEmbeddedDatabase(config, (line) => logger?.debug({ postgres: line.trim() }, 'embedded postgres'));
  return { url: embedded.url, adminUrl: embedded.adminUrl, embedded };
}

export async function createDeps(config: Config, logger: Logger, opts: { metrics?: Metrics } = {}): Promise<Deps> {
  const metrics = opts.metrics ?? new Metrics({ collectDefaults: true });
  const database = await openDatabase(config, logger);
  const closers: Array<() => Promise<void>> = [];
  // Closed in reverse: the embedded server goes last, after every pool on it has drained.
  if (database.embedded) {
    const server = database.embedded.server;
    closers.push(() => server.stop());
  }
  try {
    const db = createDb({
      url: database.url, poolMax: config.database.poolMax, connectTimeoutMs: config.database.connectTimeoutMs,
      statementTimeoutMs: config.database.statementTimeoutMs,
    });
    closers.push(() => db.destroy());
    const store = await createObjectStore(config.storage);
    if (store instanceof FsObjectStore) {
      await store.prepare();
      await store.sweepTempFiles(60 * 60_000).catch(() => undefined);
    }
    const rawKeys = await createKeyProvider(config.keys);
    closers.push(async () => { await rawKeys.close?.(); });
    const keys = new InstrumentedKeyProvider(rawKeys, (operation, outcome) => metrics.keyServiceCalls.inc({ operation, outcome }));
    const keyCache = new DataKeyCache({
      ttlMs: config.keyCache.ttlSeconds * 1000, maxEntries: config.keyCache.maxEntries, onLookup: (result) => metrics.dataKeyCache.inc({ result }),
    });
    closers.push(async () => keyCache.clear());
    const audit = new ChainedAuditLog(db, {
      metrics: {
        written: (n) => metrics.auditWrites.inc({ outcome: 'ok' }, n),
        failed: () => metrics.auditWrites.inc({ outcome: 'failed' }),
        deniedDropped: () => metrics.auditDeniedDropped.inc(),
      },
      deniedPerMinute: config.audit.deniedPerMinute,
    });
    closers.push(() => audit.close());
    if (config.jwt.devSigningKey) await ensureDevSigningKey(config.jwt.devSigningKey);
    await ensureAnchorKey(config.audit.anchorKey.file, config.audit.anchorKey.generate);
    const tokens = new JwtVerifier(config.jwt, await keySourceFromConfig(config.jwt));
    const phones = new PhoneHasher(await loadSecret(config.phone.hashKey, 'PHONE_HASH_KEY_FILE'), config.phone.defaultCountryCode);
    const linkSigningKey = await loadSecret(config.links.signingKey, 'LINK_SIGNING_KEY_FILE');
    const recordings = new RecordingStore(db);
    const policies = new PolicyStore(db, config.recordings.defaultRetention);
    const tenants = new TenantStore(db);
    const ingest: IngestDeps = {
      db, recordings, store, keys, tenants, policies, phones, audit, maxBytes: config.recordings.maxBytes,
      objectLock: config.storage.driver === 's3' && config.storage.objectLockMode !== undefined,
      onBytes: (n) => metrics.bytesIn.inc(n),
    };
    return {
      config, logger, metrics, db, store, keys, keyCache, keyAdmin: rawKeys, audit, tokens, recordings, policies, tenants, phones, linkSigningKey,
      ingest, guards: createGuards(config, { audit, metrics, logger }, { pbxGate: pbxClientCertificateGate(config.http.tls) }),
      readiness: () => readiness(db, store, keys),
      close: async () => {
        for (const close of closers.reverse()) await close().catch((err: unknown) => logger.warn({ err }, 'error during shutdown'));
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function readiness(db: Db, store: ObjectStore, keys: KeyProvider): Promise<Record<string, string>> {
  const check = async (fn: () => Promise<unknown>): Promise<string> => {
    try {
      await withTimeout(fn(), 3_000);
      return 'ok';
    } catch {
      return 'unavailable';
    }
  };
  const [database, storage, keyService] = await Promise.all([
    check(() => db.raw('select 1')), check(() => store.ping()), check(() => keys.ping()),
  ]);
  return { database, storage, keys: keyService };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}

export { migrate };
