import pg from 'pg';
import type { AuditLog } from './audit/types.js';
import { ensureAnchorKey } from './audit/anchors.js';
import { AuditCheckpoints } from './audit/checkpoints.js';
import { TenantAuditLog } from './audit/log-writer.js';
import { AuditLogRegistry } from './audit/logs.js';
import { ExportSlots, type AuditExportDeps } from './audit/export-limits.js';
import { ensureDevSigningKey } from './auth/dev-issuer.js';
import { JwtVerifier, keySourceFromConfig, type TokenVerifier } from './auth/jwt.js';
import { pbxClientCertificateGate } from './auth/pbx-gate.js';
import type { Config } from './config/config.js';
import { durationMs } from './config/duration.js';
import { ConfigError } from './config/schema.js';
import { loadSecret, readPrivateFile } from './config/secrets.js';
import { createDb, type Db } from './db/knex.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { checkServicePrivileges } from './db/privileges.js';
import { CachedProbe } from './lib/cached-probe.js';
import { createGuards, Limits, type RequestGuards } from './guards/index.js';
import type { Logger } from './http/logger.js';
import { Metrics } from './http/metrics.js';
import { loadMetricsToken } from './http/metrics-access.js';
import { ActiveVersionKeyProvider } from './keys/active-version.js';
import { createKeyProvider, DataKeyCache, InstrumentedKeyProvider, LocalKeyProvider, type KeyProvider } from './keys/index.js';
import type { AwsKmsKeyProvider } from './keys/index.js';
import { KeyVersionStore } from './keys/versions.js';
import { IngestService } from './ingest/ingest.js';
import { LinkRedemption } from './links/redeem.js';
import { createLinkService, type LinkService } from './links/service.js';
import { LinkStore } from './links/store.js';
import { LinkSigner } from './links/token.js';
import { PeaksService } from './peaks/service.js';
import { PhoneHasher } from './recordings/phone.js';
import { CursorCodec } from './recordings/search.js';
import { RecordingStore } from './recordings/store.js';
import { UploadRegistry } from './recordings/uploads-in-progress.js';
import { PolicyStore } from './retention/policy-store.js';
import { createObjectStore, FsObjectStore, type ObjectStore } from './storage/index.js';
import { TenantStore } from './tenants/store.js';
import { SavedSearchStore } from './saved-searches/store.js';
import { DownloadGrantStore } from './downloads/store.js';
import { CONSOLE_SEAL_LABEL, ConsoleSessions } from './console/sessions.js';
import { OidcSignIn } from './console/oidc.js';
import { deriveKey } from './lib/signed-blob.js';
import { RedactionStore } from './redaction/store.js';

/**
 * The composition root: every dependency of the vault is built here, by hand, from the parsed
 * configuration. Nothing else constructs clients or stores.
 */
export interface Deps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  readonly store: ObjectStore;
  readonly keys: KeyProvider;
  readonly keyCache: DataKeyCache;
  /** Waveform peaks: computed on first view, cached encrypted (src/peaks). */
  readonly peaks: PeaksService;
  /** The key provider itself, uninstrumented: for rotate and retire (src/keys/rotation.ts). */
  readonly keyAdmin: LocalKeyProvider | AwsKmsKeyProvider;
  /** The local master key versions and their states: which one is active is a database fact. */
  readonly keyVersions: KeyVersionStore;
  /** Uploads still streaming or committing, on any replica (the orphan sweep skips them). */
  readonly uploads: UploadRegistry;
  readonly audit: AuditLog;
  /** The per-tenant audit logs: which log a tenant writes to, and their signed checkpoints. */
  readonly auditLogs: AuditLogRegistry;
  readonly checkpoints: AuditCheckpoints;
  /** Told after events of a log were written by this process (follow-mode exports wait on it). */
  readonly onAuditAppended: (listener: (logId: number) => void) => () => void;
  /** Audit exports: their own small pool, so that slow readers never starve the main one. */
  readonly auditExport: AuditExportDeps;
  readonly tokens: TokenVerifier;
  readonly recordings: RecordingStore;
  readonly policies: PolicyStore;
  readonly tenants: TenantStore;
  readonly phones: PhoneHasher;
  readonly linkSigningKey: Buffer;
  /** Issuing and revoking playback links. */
  readonly links: LinkService;
  /** Redeeming playback links: admission and the deciding use (src/links/redeem.ts). */
  readonly redemption: LinkRedemption;
  /** Search cursors, MACed under a key derived from linkSigningKey. */
  readonly searchCursors: CursorCodec;
  /** SHA-256 of the METRICS_TOKEN_FILE token; null when /metrics takes no token. */
  readonly metricsToken: Buffer | null;
  /** Uploads: staging, commit, cleanup and their audit (src/ingest/ingest.ts). */
  readonly ingest: IngestService;
  /** The request guards (src/guards): rate limits, lockout, pbx gates, exfiltration budget. */
  readonly guards: RequestGuards;
  /** Each user's named recording searches (src/saved-searches). */
  readonly savedSearches: SavedSearchStore;
  /** Which roles of a tenant may download recordings (off by default; src/downloads). */
  readonly downloadGrants: DownloadGrantStore;
  /** Console sessions (src/console): sign-in, the session cookie, idle and absolute expiry. */
  readonly consoleSessions: ConsoleSessions;
  /** OIDC sign-in for the console; null when CONSOLE_OIDC_ISSUER is unset. */
  readonly consoleOidc: OidcSignIn | null;
  /** Redaction receipts, four-eyes requests, sealed originals and the tenant's choice to keep them (src/redaction). */
  readonly redactions: RedactionStore;
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
    await checkServicePrivileges(db, config.mode, logger);
    const exportDb = createDb({
      url: database.url, poolMax: config.audit.exportPoolMax, connectTimeoutMs: config.database.connectTimeoutMs,
      statementTimeoutMs: config.database.statementTimeoutMs, applicationName: 'callvault-audit-export',
    });
    closers.push(() => exportDb.destroy());
    const auditExport: AuditExportDeps = {
      db: exportDb, slots: new ExportSlots(config.audit.exportMaxConcurrent), idleTimeoutMs: config.audit.exportIdleTimeoutMs,
    };
    const limits = new Limits(limitsPool(config, database.url, logger, closers), (err) => {
      logger.warn({ err }, 'request limits cannot reach the database: rate limits and lockout count per replica, link issuance and playback are refused');
    });
    const store = await createObjectStore(config.storage);
    if (store instanceof FsObjectStore) {
      await store.prepare();
      await store.sweepTempFiles(60 * 60_000).catch(() => undefined);
    }
    const rawKeys = await createKeyProvider(config.keys);
    closers.push(async () => { await rawKeys.close?.(); });
    const keyVersions = new KeyVersionStore(db);
    const uploads = new UploadRegistry(db);
    closers.push(() => uploads.close());
    const versioned = rawKeys instanceof LocalKeyProvider ? new ActiveVersionKeyProvider(rawKeys, keyVersions) : rawKeys;
    const keys = new InstrumentedKeyProvider(versioned, (operation, outcome) => metrics.keyServiceCalls.inc({ operation, outcome }));
    const keyCache = new DataKeyCache({
      ttlMs: config.keyCache.ttlSeconds * 1000, maxEntries: config.keyCache.maxEntries, onLookup: (result) => metrics.dataKeyCache.inc({ result }),
    });
    closers.push(async () => keyCache.clear());
    const auditLogs = new AuditLogRegistry(db, config.audit.namespace);
    const audit = new TenantAuditLog(db, auditLogs, {
      metrics: {
        written: (n) => metrics.auditWrites.inc({ outcome: 'ok' }, n),
        failed: () => metrics.auditWrites.inc({ outcome: 'failed' }),
        deniedDropped: () => metrics.auditDeniedDropped.inc(),
      },
      deniedPerMinute: config.audit.deniedPerMinute,
      // Half the pool at most waits on audit log locks: the other half keeps serving.
      maxLongAppends: Math.max(1, Math.floor(config.database.poolMax / 2)),
    });
    closers.push(() => audit.close());
    if (config.jwt.devSigningKey) await ensureDevSigningKey(config.jwt.devSigningKey);
    await ensureAnchorKey(config.audit.anchorKey.file, config.audit.anchorKey.generate);
    const checkpoints = new AuditCheckpoints({
      db, store, logs: auditLogs, anchorKeyFile: config.audit.anchorKey.file, generateAnchorKey: config.audit.anchorKey.generate,
    });
    const tokens = new JwtVerifier(config.jwt, await keySourceFromConfig(config.jwt));
    const phones = new PhoneHasher(await loadSecret(config.phone.hashKey, 'PHONE_HASH_KEY_FILE'), config.phone.defaultCountryCode);
    const linkSigningKey = await loadSecret(config.links.signingKey, 'LINK_SIGNING_KEY_FILE');
    const metricsToken = await loadMetricsToken(config.observability.metrics.tokenFile);
    const recordings = new RecordingStore(db);
    const policies = new PolicyStore(db, config.recordings.defaultRetention);
    const tenants = new TenantStore(db);
    const peaks = new PeaksService({ store, keys, keyCache, logger, recordings, onDecode: (outcome) => metrics.peaksDecoded.inc({ outcome }) });
    const guards = createGuards(config, { audit, metrics, logger, limits }, { pbxGate: pbxClientCertificateGate(config.http.tls) });
    const linkStore = new LinkStore(db);
    const linkSigner = new LinkSigner(linkSigningKey);
    const links = createLinkService({
      db, links: linkStore, signer: linkSigner, recordings, audit, defaultTtlSeconds: config.links.defaultTtlSeconds, exfiltration: guards.exfiltration,
    });
    const redemption = new LinkRedemption({ links: linkStore, signer: linkSigner, recordings, audit, guards });
    const ingest = createIngestService({ config, metrics, db, recordings, store, keys, keyVersions, uploads, policies, phones, audit });
    const consoleSealKey = deriveKey(linkSigningKey, CONSOLE_SEAL_LABEL);
    const consoleSessions = new ConsoleSessions(db, audit, { idleTimeoutMs: config.console.idleTimeoutMs, maxAgeMs: config.console.maxAgeMs, sealKey: consoleSealKey });
    const consoleOidc = await createConsoleOidc(config, db, consoleSealKey);
    return {
      consoleSessions, consoleOidc,
      peaks,
      config, logger, metrics, db, store, keys, keyCache, keyAdmin: rawKeys, keyVersions, uploads, audit, tokens, recordings, policies, tenants, phones, linkSigningKey, metricsToken, auditExport,
      auditLogs, checkpoints, onAuditAppended: (listener) => audit.onAppended(listener),
      links, redemption, ingest, searchCursors: new CursorCodec(linkSigningKey), guards,
      redactions: new RedactionStore(db),
      savedSearches: new SavedSearchStore(db), downloadGrants: new DownloadGrantStore(db),
      readiness: readinessProbe(db, store, keys, config.observability.readinessKeyCheckSeconds * 1000),
      close: async () => {
        for (const close of closers.reverse()) await close().catch((err: unknown) => logger.warn({ err }, 'error during shutdown'));
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function createConsoleOidc(config: Config, db: Db, sealKey: Buffer): Promise<OidcSignIn | null> {
  const oidc = config.console.oidc;
  if (!oidc) return null;
  const clientSecret = oidc.clientSecret
    ? (await readPrivateFile(oidc.clientSecret.file, 'CONSOLE_OIDC_CLIENT_SECRET_FILE')).toString('utf8').trim()
    : undefined;
  if (clientSecret === '') throw new ConfigError('CONSOLE_OIDC_CLIENT_SECRET_FILE', `${oidc.clientSecret?.file ?? ''} is empty`);
  return new OidcSignIn(db, { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret, scopes: oidc.scopes, claims: config.jwt.claims, sealKey });
}

export type IngestSources = Pick<Deps, 'config' | 'metrics' | 'db' | 'recordings' | 'store' | 'keys' | 'keyVersions' | 'uploads' | 'policies' | 'phones' | 'audit'>;

/** The ingest service over the vault's stores and clients, with its limits from the configuration. */
export function createIngestService(d: IngestSources): IngestService {
  return new IngestService(d, {
    maxBytes: d.config.recordings.maxBytes, maxClockSkewMs: durationMs(d.config.recordings.maxClockSkew),
    // Long enough to ride out a reconnect (a few connection attempts), short enough for the PBX's HTTP timeout.
    commitOutcomeWaitMs: 3 * d.config.database.connectTimeoutMs,
    onBytes: (n) => d.metrics.bytesIn.inc(n),
  });
}

/**
 * The small pool the shared limits count through (src/guards/limits.ts): apart from the main
 * pool, so a busy main pool never delays or fails a limit check, and bounded by the connect
 * timeout so that an unreachable database soon falls back instead of stalling every request.
 */
function limitsPool(config: Config, url: string, logger: Logger, closers: Array<() => Promise<void>>): pg.Pool {
  const timeoutMs = config.database.connectTimeoutMs;
  const pool = new pg.Pool({
    connectionString: url, max: config.limits.poolMax, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs,
    statement_timeout: timeoutMs, idleTimeoutMillis: 30_000, application_name: 'callvault-limits',
  });
  // An idle connection dropped by a database restart must not crash the process.
  pool.on('error', (err) => logger.warn({ err }, 'a request-limits database connection failed'));
  closers.push(() => pool.end());
  return pool;
}

async function check(fn: () => Promise<unknown>): Promise<string> {
  try {
    await withTimeout(fn(), 3_000);
    return 'ok';
  } catch {
    return 'unavailable';
  }
}

/**
 * /readyz: the database and the store are asked on every probe; the key service's answer is
 * reused for `keyCheckMs` (READINESS_KEY_CHECK_SECONDS), since every KMS call is billed and
 * counts against the account's request quota.
 */
function readinessProbe(db: Db, store: ObjectStore, keys: KeyProvider, keyCheckMs: number): () => Promise<Record<string, string>> {
  const keyService = new CachedProbe(() => check(() => keys.ping()), keyCheckMs);
  return async () => {
    const [database, storage, keyState] = await Promise.all([check(() => db.raw('select 1')), check(() => store.ping()), keyService.get()]);
    return { database, storage, keys: keyState };
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}

export { migrate };
