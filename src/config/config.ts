import path from 'node:path';
import { isLogNamespace } from '../lib/log-names.js';
import { approximateSeconds, durationMs, type IsoDuration } from './duration.js';
import { ConfigError, parseEnv, parseInterval, type Env } from './schema.js';

/** A secret file the vault reads; `generate` is true only for embedded defaults created on first start. */
export interface SecretFile { readonly file: string; readonly generate: boolean }

export type StorageConfig =
  | { readonly driver: 'fs'; readonly root: string }
  | {
      readonly driver: 's3'; readonly bucket: string; readonly region: string; readonly endpoint?: string;
      readonly forcePathStyle: boolean; readonly objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
      readonly maxAttempts: number; readonly connectTimeoutMs: number; readonly requestTimeoutMs: number;
    };

export type KeysConfig =
  | { readonly kind: 'local'; readonly dir: string; readonly create: boolean }
  | {
      readonly kind: 'aws-kms'; readonly keyId: string; readonly region: string; readonly endpoint?: string;
      readonly maxAttempts: number; readonly connectTimeoutMs: number; readonly requestTimeoutMs: number;
    };

export interface Config {
  readonly mode: 'embedded' | 'production';
  readonly dataDir: string;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly http: {
    readonly port: number; readonly host: string; readonly publicUrl?: string; readonly trustProxy?: string;
    readonly tls: { readonly cert: SecretFile; readonly key: SecretFile; readonly clientCaFile?: string; readonly requireClientCertForPbx: boolean; readonly pbxCertMustMatchSub: boolean };
    readonly headersTimeoutMs: number; readonly requestTimeoutMs: number; readonly idleBodyTimeoutMs: number; readonly keepAliveTimeoutMs: number;
    readonly shutdownGraceMs: number;
  };
  readonly database: {
    readonly embedded: boolean; readonly url?: string; readonly adminUrl?: string; readonly poolMax: number;
    readonly connectTimeoutMs: number; readonly statementTimeoutMs: number; readonly embeddedPort: number;
    /** Root only: binaries and clusters the postgres user cannot reach in place. */
    readonly embeddedRuntimeDir: string;
  };
  readonly storage: StorageConfig;
  readonly keys: KeysConfig;
  readonly keyCache: { readonly ttlSeconds: number; readonly maxEntries: number };
  readonly jwt: {
    readonly issuer: string; readonly audience: string; readonly jwksUri?: string; readonly publicKeyFile?: string;
    readonly devSigningKey?: SecretFile; readonly algorithms: readonly string[]; readonly clockSkewSeconds: number;
    readonly claims: { readonly sub: string; readonly tenant: string; readonly roles: string };
    /** Longest accepted token lifetime: exp - iat, or exp - now without iat. */
    readonly maxTtlSeconds: number;
  };
  readonly links: { readonly signingKey: SecretFile; readonly defaultTtlSeconds: number; readonly maxTtlSeconds: number };
  /** Origins whose pages may play links in `<audio crossorigin>` (CORS); others get CORP same-origin. */
  readonly media: { readonly embedOrigins: readonly string[] };
  readonly phone: { readonly hashKey: SecretFile; readonly defaultCountryCode: string };
  readonly recordings: { readonly maxBytes: number; readonly defaultRetention: IsoDuration; readonly maxClockSkew: IsoDuration };
  readonly retention: { readonly interval: IsoDuration | 'off'; readonly batchSize: number; readonly leaseSeconds: number; readonly orphanGrace: IsoDuration };
  readonly audit: {
    readonly anchorKey: SecretFile; readonly anchorInterval: IsoDuration | 'off'; readonly deniedPerMinute: number;
    /** Exports one principal may run at once on one replica, how long one may wait for its reader, and their own pool. */
    readonly exportMaxConcurrent: number; readonly exportIdleTimeoutMs: number; readonly exportPoolMax: number;
    /** Names the deployment's per-tenant logs: origins are `<namespace>/tenant/<t>` and `<namespace>/system`. */
    readonly namespace: string;
  };
  readonly limits: {
    readonly ratePerMinute: number; readonly principalRatePerMinute: number; readonly lockoutFailures: number; readonly lockoutSeconds: number;
    readonly pbxAllowedCidrs: readonly string[]; readonly linkRatePerHour: number;
    /** Connections of the pool that counts the limits in the database, shared by every replica. */
    readonly poolMax: number;
  };
  readonly observability: {
    /** How long /readyz reuses the key service's answer (0: ask on every probe). */
    readonly readinessKeyCheckSeconds: number;
    /**
     * /metrics: behind a bearer token read from `tokenFile`, and/or on its own plain-HTTP
     * listener. In production mode with neither, the public listener does not serve it.
     */
    readonly metrics: { readonly tokenFile?: string; readonly listen?: { readonly host: string; readonly port: number }; readonly public: boolean };
  };
  readonly console: ConsoleConfig;
  /** Redaction (docs/redaction.md): 'required' turns each redaction into a request a second compliance user decides. */
  readonly redaction: { readonly approval: 'none' | 'required' };
}

/** The browser console (src/console): how people sign in and how long a session lives. */
export interface ConsoleConfig {
  /** The development sign-in (pick tenant, role, sub): embedded mode only, never in production. */
  readonly devSignIn: boolean;
  readonly idleTimeoutMs: number;
  /** Absolute session lifetime, however active the session is. */
  readonly maxAgeMs: number;
  /** Link issuance from a console session needs `amr` with mfa/otp/hwk or an acr listed here. */
  readonly linkRequiresMfa: boolean;
  readonly mfaAcrValues: readonly string[];
  readonly oidc?: { readonly issuer: string; readonly clientId: string; readonly clientSecret?: SecretFile; readonly scopes: string };
}

const ALLOWED_JWT_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);

export const DEV_JWT_ISSUER = 'https://callvault.local/dev-issuer';
export const DEV_JWT_AUDIENCE = 'callvault';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(env);
  const dataDir = path.resolve(e.CALLVAULT_DATA_DIR);
  const production = e.CALLVAULT_MODE === 'production';
  const secret = (variable: string, value: string | undefined, ...fallback: string[]): SecretFile => {
    if (value) return { file: path.resolve(value), generate: false };
    if (production) throw new ConfigError(variable, 'is required when CALLVAULT_MODE=production (no secret has a default)');
    return { file: path.join(dataDir, ...fallback), generate: true };
  };
  const config: Config = {
    mode: e.CALLVAULT_MODE,
    dataDir,
    logLevel: e.LOG_LEVEL,
    http: {
      port: e.PORT, host: e.HOST, publicUrl: e.PUBLIC_URL === undefined ? undefined : withoutTrailingSlashes(e.PUBLIC_URL), trustProxy: e.TRUST_PROXY,
      tls: tlsConfig(e, secret),
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      idleBodyTimeoutMs: e.HTTP_IDLE_BODY_TIMEOUT_MS, keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS, shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
    database: databaseConfig(e, production),
    storage: storageConfig(e, dataDir),
    keys: keysConfig(e, dataDir, production),
    keyCache: { ttlSeconds: e.DATA_KEY_CACHE_TTL_SECONDS, maxEntries: e.DATA_KEY_CACHE_MAX_ENTRIES },
    jwt: jwtConfig(e, secret, production),
    links: {
      signingKey: secret('LINK_SIGNING_KEY_FILE', e.LINK_SIGNING_KEY_FILE, 'secrets', 'link-signing.key'),
      defaultTtlSeconds: e.LINK_DEFAULT_TTL_SECONDS, maxTtlSeconds: e.LINK_MAX_TTL_SECONDS,
    },
    media: { embedOrigins: e.MEDIA_EMBED_ORIGINS },
    phone: { hashKey: secret('PHONE_HASH_KEY_FILE', e.PHONE_HASH_KEY_FILE, 'secrets', 'phone-hash.key'), defaultCountryCode: e.PHONE_DEFAULT_COUNTRY_CODE },
    recordings: { maxBytes: e.MAX_RECORDING_BYTES, defaultRetention: e.DEFAULT_RETENTION, maxClockSkew: e.RECORDING_MAX_CLOCK_SKEW },
    retention: {
      interval: parseInterval('RETENTION_INTERVAL', e.RETENTION_INTERVAL), batchSize: e.RETENTION_BATCH_SIZE,
      leaseSeconds: e.RETENTION_LEASE_SECONDS, orphanGrace: e.ORPHAN_GRACE,
    },
    audit: {
      anchorKey: secret('AUDIT_ANCHOR_KEY_FILE', e.AUDIT_ANCHOR_KEY_FILE, 'secrets', 'audit-anchor-ed25519.pem'),
      anchorInterval: parseInterval('AUDIT_ANCHOR_INTERVAL', e.AUDIT_ANCHOR_INTERVAL),
      deniedPerMinute: e.AUDIT_DENIED_PER_MINUTE,
      exportMaxConcurrent: e.AUDIT_EXPORT_MAX_CONCURRENT, exportIdleTimeoutMs: fixedDurationMs('AUDIT_EXPORT_IDLE_TIMEOUT', e.AUDIT_EXPORT_IDLE_TIMEOUT),
      exportPoolMax: e.AUDIT_EXPORT_POOL_MAX,
      namespace: auditNamespace(e.AUDIT_NAMESPACE, production),
    },
    limits: {
      ratePerMinute: e.RATE_LIMIT_PER_MINUTE, principalRatePerMinute: e.RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE, lockoutFailures: e.AUTH_LOCKOUT_FAILURES, lockoutSeconds: e.AUTH_LOCKOUT_SECONDS,
      pbxAllowedCidrs: parseCidrList(e.PBX_ALLOWED_CIDRS), linkRatePerHour: e.LINK_RATE_PER_HOUR, poolMax: e.RATE_LIMIT_POOL_MAX,
    },
    observability: { readinessKeyCheckSeconds: e.READINESS_KEY_CHECK_SECONDS, metrics: metricsConfig(e, production) },
    console: consoleConfig(e, production),
    redaction: { approval: e.REDACTION_APPROVAL },
  };
  if (config.links.defaultTtlSeconds > config.links.maxTtlSeconds) {
    throw new ConfigError('LINK_DEFAULT_TTL_SECONDS', 'must not exceed LINK_MAX_TTL_SECONDS');
  }
  return deepFreeze(config);
}

type SecretOf = (variable: string, value: string | undefined, ...fallback: string[]) => SecretFile;

function tlsConfig(e: Env, secret: SecretOf): Config['http']['tls'] {
  if (Boolean(e.TLS_CERT_FILE) !== Boolean(e.TLS_KEY_FILE)) {
    throw new ConfigError(e.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  if (e.TLS_REQUIRE_CLIENT_CERT_FOR_PBX && !e.TLS_CLIENT_CA_FILE) {
    throw new ConfigError('TLS_CLIENT_CA_FILE', 'is required when TLS_REQUIRE_CLIENT_CERT_FOR_PBX=true');
  }
  if (e.TLS_PBX_CERT_MUST_MATCH_SUB && !e.TLS_REQUIRE_CLIENT_CERT_FOR_PBX) {
    throw new ConfigError('TLS_PBX_CERT_MUST_MATCH_SUB', 'requires TLS_REQUIRE_CLIENT_CERT_FOR_PBX=true');
  }
  return {
    cert: secret('TLS_CERT_FILE', e.TLS_CERT_FILE, 'tls', 'server.crt'),
    key: secret('TLS_KEY_FILE', e.TLS_KEY_FILE, 'tls', 'server.key'),
    clientCaFile: e.TLS_CLIENT_CA_FILE ? path.resolve(e.TLS_CLIENT_CA_FILE) : undefined,
    requireClientCertForPbx: e.TLS_REQUIRE_CLIENT_CERT_FOR_PBX,
    pbxCertMustMatchSub: e.TLS_PBX_CERT_MUST_MATCH_SUB,
  };
}

function databaseConfig(e: Env, production: boolean): Config['database'] {
  if (!e.DATABASE_URL && production) throw new ConfigError('DATABASE_URL', 'is required when CALLVAULT_MODE=production');
  if (e.DATABASE_ADMIN_URL && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'must be set when DATABASE_ADMIN_URL is set');
  return {
    embedded: !e.DATABASE_URL, url: e.DATABASE_URL, adminUrl: e.DATABASE_ADMIN_URL ?? e.DATABASE_URL,
    poolMax: e.DATABASE_POOL_MAX, connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS, embeddedPort: e.EMBEDDED_DATABASE_PORT,
    embeddedRuntimeDir: path.resolve(e.EMBEDDED_DATABASE_RUNTIME_DIR),
  };
}

function storageConfig(e: Env, dataDir: string): StorageConfig {
  if (e.STORAGE_DRIVER === 'fs') {
    if (e.S3_BUCKET) throw new ConfigError('STORAGE_DRIVER', 'S3_BUCKET is set but STORAGE_DRIVER is not "s3"');
    return { driver: 'fs', root: path.join(dataDir, 'objects') };
  }
  if (!e.S3_BUCKET) throw new ConfigError('S3_BUCKET', 'is required when STORAGE_DRIVER=s3');
  return {
    driver: 's3', bucket: e.S3_BUCKET, region: e.S3_REGION, endpoint: e.S3_ENDPOINT, forcePathStyle: e.S3_FORCE_PATH_STYLE,
    objectLockMode: e.S3_OBJECT_LOCK_MODE === undefined ? undefined : e.S3_OBJECT_LOCK_MODE === 'governance' ? 'GOVERNANCE' : 'COMPLIANCE',
    maxAttempts: e.S3_MAX_ATTEMPTS, connectTimeoutMs: e.S3_CONNECT_TIMEOUT_MS, requestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
  };
}

function keysConfig(e: Env, dataDir: string, production: boolean): KeysConfig {
  if (e.KEY_PROVIDER === 'local') {
    if (e.KMS_KEY_ID) throw new ConfigError('KEY_PROVIDER', 'KMS_KEY_ID is set but KEY_PROVIDER is not "aws-kms"');
    if (!e.LOCAL_KEY_DIR && production) throw new ConfigError('LOCAL_KEY_DIR', 'is required for KEY_PROVIDER=local when CALLVAULT_MODE=production');
    return { kind: 'local', dir: e.LOCAL_KEY_DIR ? path.resolve(e.LOCAL_KEY_DIR) : path.join(dataDir, 'keys'), create: !e.LOCAL_KEY_DIR };
  }
  if (!e.KMS_KEY_ID) throw new ConfigError('KMS_KEY_ID', 'is required when KEY_PROVIDER=aws-kms');
  return {
    kind: 'aws-kms', keyId: e.KMS_KEY_ID, region: e.KMS_REGION ?? e.S3_REGION, endpoint: e.KMS_ENDPOINT,
    maxAttempts: e.KMS_MAX_ATTEMPTS, connectTimeoutMs: e.KMS_CONNECT_TIMEOUT_MS, requestTimeoutMs: e.KMS_REQUEST_TIMEOUT_MS,
  };
}

function jwtConfig(e: Env, secret: SecretOf, production: boolean): Config['jwt'] {
  const algorithms = e.JWT_ALGORITHMS.split(',').map((a) => a.trim()).filter(Boolean);
  const bad = algorithms.find((a) => !ALLOWED_JWT_ALGORITHMS.has(a));
  if (bad || algorithms.length === 0) {
    throw new ConfigError('JWT_ALGORITHMS', `only asymmetric algorithms are accepted (${[...ALLOWED_JWT_ALGORITHMS].join(', ')}); got "${bad ?? ''}"`);
  }
  const claims = { sub: e.JWT_SUB_CLAIM, tenant: e.JWT_TENANT_CLAIM, roles: e.JWT_ROLES_CLAIM };
  const base = { algorithms, clockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS, claims, maxTtlSeconds: Math.round(approximateSeconds(e.JWT_MAX_TTL)) };
  const external = e.JWT_ISSUER || e.JWT_JWKS_URI || e.JWT_PUBLIC_KEY_FILE;
  if (!external) {
    if (production) throw new ConfigError('JWT_ISSUER', 'is required when CALLVAULT_MODE=production');
    return { ...base, issuer: DEV_JWT_ISSUER, audience: e.JWT_AUDIENCE ?? DEV_JWT_AUDIENCE, devSigningKey: secret('JWT_DEV_SIGNING_KEY_FILE', e.JWT_DEV_SIGNING_KEY_FILE, 'secrets', 'jwt-dev-signing.pem') };
  }
  if (!e.JWT_ISSUER) throw new ConfigError('JWT_ISSUER', 'is required when JWT_JWKS_URI or JWT_PUBLIC_KEY_FILE is set');
  if (!e.JWT_AUDIENCE) throw new ConfigError('JWT_AUDIENCE', 'is required when JWT_ISSUER is set');
  if (Boolean(e.JWT_JWKS_URI) === Boolean(e.JWT_PUBLIC_KEY_FILE)) {
    throw new ConfigError('JWT_JWKS_URI', 'set exactly one of JWT_JWKS_URI and JWT_PUBLIC_KEY_FILE');
  }
  if (e.JWT_JWKS_URI && !isHttpsOrLoopback(e.JWT_JWKS_URI)) {
    throw new ConfigError('JWT_JWKS_URI', 'must be an https URL (plain http is accepted only for localhost)');
  }
  return {
    ...base, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE, jwksUri: e.JWT_JWKS_URI,
    publicKeyFile: e.JWT_PUBLIC_KEY_FILE ? path.resolve(e.JWT_PUBLIC_KEY_FILE) : undefined,
    devSigningKey: e.JWT_DEV_SIGNING_KEY_FILE ? { file: path.resolve(e.JWT_DEV_SIGNING_KEY_FILE), generate: false } : undefined,
  };
}

/** Verification keys decide who is who: they are fetched over TLS unless the issuer runs on this host. */
function isHttpsOrLoopback(uri: string): boolean {
  const u = new URL(uri);
  return u.protocol === 'https:' || (u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname));
}

function consoleConfig(e: Env, production: boolean): ConsoleConfig {
  const idleTimeoutMs = fixedDurationMs('CONSOLE_IDLE_TIMEOUT', e.CONSOLE_IDLE_TIMEOUT);
  const maxAgeMs = fixedDurationMs('CONSOLE_SESSION_MAX_AGE', e.CONSOLE_SESSION_MAX_AGE);
  if (idleTimeoutMs > maxAgeMs) throw new ConfigError('CONSOLE_IDLE_TIMEOUT', 'must not exceed CONSOLE_SESSION_MAX_AGE');
  const mfaAcrValues = (e.CONSOLE_MFA_ACR_VALUES ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  return { devSignIn: !production, idleTimeoutMs, maxAgeMs, linkRequiresMfa: e.CONSOLE_LINK_REQUIRES_MFA, mfaAcrValues, oidc: consoleOidc(e, production) };
}

function consoleOidc(e: Env, production: boolean): ConsoleConfig['oidc'] {
  if (!e.CONSOLE_OIDC_ISSUER) {
    if (e.CONSOLE_OIDC_CLIENT_ID) throw new ConfigError('CONSOLE_OIDC_ISSUER', 'is required when CONSOLE_OIDC_CLIENT_ID is set');
    return undefined;
  }
  if (!e.CONSOLE_OIDC_CLIENT_ID) throw new ConfigError('CONSOLE_OIDC_CLIENT_ID', 'is required when CONSOLE_OIDC_ISSUER is set');
  if (!isHttpsOrLoopback(e.CONSOLE_OIDC_ISSUER)) throw new ConfigError('CONSOLE_OIDC_ISSUER', 'must be an https URL (plain http is accepted only for localhost)');
  // The redirect URI is built from PUBLIC_URL; without it only a local trial may fall back to the request's origin.
  if (production && !e.PUBLIC_URL) throw new ConfigError('PUBLIC_URL', 'is required when CONSOLE_OIDC_ISSUER is set and CALLVAULT_MODE=production');
  if (!e.CONSOLE_OIDC_SCOPES.split(/\s+/).includes('openid')) throw new ConfigError('CONSOLE_OIDC_SCOPES', 'must include openid');
  return {
    issuer: e.CONSOLE_OIDC_ISSUER, clientId: e.CONSOLE_OIDC_CLIENT_ID, scopes: e.CONSOLE_OIDC_SCOPES,
    clientSecret: e.CONSOLE_OIDC_CLIENT_SECRET_FILE ? { file: path.resolve(e.CONSOLE_OIDC_CLIENT_SECRET_FILE), generate: false } : undefined,
  };
}

/** A timeout: hours, minutes and seconds only, at most a day. */
function fixedDurationMs(variable: string, d: IsoDuration): number {
  if (d.years || d.months || d.weeks || d.days || durationMs(d) > 86_400_000) {
    throw new ConfigError(variable, 'must be a duration of hours, minutes and seconds up to PT24H, such as PT60S');
  }
  return durationMs(d);
}

function metricsConfig(e: Env, production: boolean): Config['observability']['metrics'] {
  const tokenFile = e.METRICS_TOKEN_FILE ? path.resolve(e.METRICS_TOKEN_FILE) : undefined;
  const listen = e.METRICS_LISTEN === undefined ? undefined : parseListen(e.METRICS_LISTEN);
  // Production fails closed: metrics name routes, tenants' traffic and failure rates, so the
  // public listener serves them only behind the token.
  return { tokenFile, listen, public: tokenFile !== undefined || (!production && listen === undefined) };
}

function parseListen(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('METRICS_LISTEN', `"${text}" is not host:port (e.g. 127.0.0.1:9464)`);
  }
  return { host, port };
}

function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

function parseCidrList(text: string | undefined): string[] {
  if (!text) return [];
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(item)) throw new ConfigError('PBX_ALLOWED_CIDRS', `"${item}" is not a CIDR block`);
  }
  return items;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** Embedded mode's namespace; a production deployment must name itself, once and for good. */
export const EMBEDDED_AUDIT_NAMESPACE = 'callvault.localhost/embedded';

function auditNamespace(value: string | undefined, production: boolean): string {
  if (value === undefined) {
    if (production) {
      throw new ConfigError('AUDIT_NAMESPACE', 'is required when CALLVAULT_MODE=production: a stable schema-less URL naming this deployment\'s audit logs, e.g. callvault.example.com/prod-eu (it must never change)');
    }
    return EMBEDDED_AUDIT_NAMESPACE;
  }
  if (!isLogNamespace(value)) {
    throw new ConfigError('AUDIT_NAMESPACE', `"${value}" is not a schema-less URL such as callvault.example.com/prod-eu (no scheme, spaces, "+" or trailing "/")`);
  }
  return value;
}
