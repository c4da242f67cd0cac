import path from 'node:path';
import { z } from 'zod';
import { durationMs, parseIsoDuration, type IsoDuration } from './duration.js';
import { issueWhere } from '../lib/validate.js';

/** Where the embedded PostgreSQL server runs from when EMBEDDED_DATABASE_RUNTIME_DIR is unset. */
export const DEFAULT_RUNTIME_DIR = '/var/lib/callvault-embedded';

/**
 * Every environment variable the vault reads, in one schema. Parsing happens once at boot; a bad
 * or contradictory value stops the process with a message naming the variable. Each part
 * (database, store, keys, issuer, TLS, secrets) falls back to its embedded default on its own
 * unless CALLVAULT_MODE=production, which turns every fallback into an error so that a
 * production deployment can never run on a generated secret by accident.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const isoDuration = z.string().transform((v, ctx): IsoDuration => {
  const d = parseIsoDuration(v);
  if (!d) { ctx.addIssue({ code: 'custom', message: `"${v}" is not an ISO-8601 duration such as PT5M or P90D` }); return z.NEVER; }
  return d;
});
const optionalText = z.string().trim().min(1).optional();
const url = z.string().url();
/**
 * A comma-separated list of web origins (`https://crm.example.com`, `http://localhost:3000`):
 * scheme, host and port only, as a browser serialises them in the `Origin` header.
 */
const originList = z.string().transform((v, ctx): string[] => {
  const origins: string[] = [];
  for (const [i, item] of v.split(',').map((s) => s.trim()).filter(Boolean).entries()) {
    let origin: string | null = null;
    try {
      const u = new URL(item);
      if (/^https?:\/\/[^/?#@\s]+\/?$/i.test(item)) origin = u.origin;
    } catch {
      origin = null;
    }
    if (!origin) { ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not an origin such as https://crm.example.com (scheme, host and optional port; no path or credentials)` }); return z.NEVER; }
    origins.push(origin);
  }
  return origins;
});
// node-postgres reads any scheme; only these two mean PostgreSQL, so "db:5432" is caught here, not at the first query.
const postgresUrl = url.refine((v) => /^postgres(?:ql)?:\/\//i.test(v), 'must be a postgres:// or postgresql:// URL');

const envObject = z.object({
  CALLVAULT_MODE: z.enum(['embedded', 'production']).default('embedded'),
  CALLVAULT_DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  PORT: int(0, 65535).default(8443),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: url.optional(),
  TRUST_PROXY: z.string().optional(),
  TLS_CERT_FILE: optionalText,
  TLS_KEY_FILE: optionalText,
  TLS_CLIENT_CA_FILE: optionalText,
  TLS_REQUIRE_CLIENT_CERT_FOR_PBX: bool.default(false),
  TLS_PBX_CERT_MUST_MATCH_SUB: bool.default(false),
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(20_000),
  HTTP_REQUEST_TIMEOUT_MS: int(0, 86_400_000).default(3_600_000),
  HTTP_IDLE_BODY_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000).default(5_000),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(25_000),

  DATABASE_URL: postgresUrl.optional(),
  DATABASE_ADMIN_URL: postgresUrl.optional(),
  DATABASE_POOL_MAX: int(1, 500).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5_000),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  EMBEDDED_DATABASE_PORT: int(0, 65535).default(0),
  EMBEDDED_DATABASE_RUNTIME_DIR: z.string().min(1).default(DEFAULT_RUNTIME_DIR),

  STORAGE_DRIVER: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: optionalText,
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_OBJECT_LOCK_MODE: z.enum(['governance', 'compliance']).optional(),
  S3_MAX_ATTEMPTS: int(1, 10).default(3),
  S3_CONNECT_TIMEOUT_MS: int(100, 120_000).default(3_000),
  S3_REQUEST_TIMEOUT_MS: int(100, 600_000).default(60_000),

  KEY_PROVIDER: z.enum(['local', 'aws-kms']).default('local'),
  LOCAL_KEY_DIR: optionalText,
  KMS_KEY_ID: optionalText,
  KMS_ENDPOINT: url.optional(),
  KMS_REGION: optionalText,
  KMS_MAX_ATTEMPTS: int(1, 10).default(3),
  KMS_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2_000),
  KMS_REQUEST_TIMEOUT_MS: int(100, 120_000).default(5_000),
  DATA_KEY_CACHE_TTL_SECONDS: int(1, 3_600).default(60),
  DATA_KEY_CACHE_MAX_ENTRIES: int(1, 100_000).default(256),

  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_JWKS_URI: url.optional(),
  JWT_PUBLIC_KEY_FILE: optionalText,
  JWT_DEV_SIGNING_KEY_FILE: optionalText,
  JWT_ALGORITHMS: z.string().default('RS256,ES256'),
  JWT_CLOCK_SKEW_SECONDS: int(0, 300).default(30),
  JWT_SUB_CLAIM: z.string().min(1).default('sub'),
  JWT_TENANT_CLAIM: z.string().min(1).default('tenant'),
  JWT_ROLES_CLAIM: z.string().min(1).default('roles'),
  JWT_MAX_TTL: isoDuration.default(parseIsoDuration('PT24H') as IsoDuration),

  LINK_SIGNING_KEY_FILE: optionalText,
  LINK_DEFAULT_TTL_SECONDS: int(1, 86_400).default(300),
  LINK_MAX_TTL_SECONDS: int(1, 86_400).default(3_600),
  MEDIA_EMBED_ORIGINS: originList.default([]),
  PHONE_HASH_KEY_FILE: optionalText,
  PHONE_DEFAULT_COUNTRY_CODE: z.string().regex(/^\d{1,3}$/).default('1'),

  MAX_RECORDING_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(4 * 1024 ** 3),
  DEFAULT_RETENTION: isoDuration.default(parseIsoDuration('P6Y') as IsoDuration),
  RECORDING_MAX_CLOCK_SKEW: isoDuration.default(parseIsoDuration('PT5M') as IsoDuration),
  RETENTION_INTERVAL: z.string().default('PT5M'),
  RETENTION_BATCH_SIZE: int(1, 10_000).default(100),
  RETENTION_LEASE_SECONDS: int(10, 86_400).default(300),
  ORPHAN_GRACE: isoDuration.default(parseIsoDuration('PT2H') as IsoDuration),

  AUDIT_ANCHOR_KEY_FILE: optionalText,
  AUDIT_ANCHOR_INTERVAL: z.string().default('PT1H'),
  AUDIT_DENIED_PER_MINUTE: int(1, 100_000).default(60),
  AUDIT_EXPORT_MAX_CONCURRENT: int(1, 100).default(2),
  AUDIT_EXPORT_IDLE_TIMEOUT: isoDuration.default(parseIsoDuration('PT60S') as IsoDuration),
  AUDIT_EXPORT_POOL_MAX: int(1, 100).default(4),
  AUDIT_NAMESPACE: optionalText,

  RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_POOL_MAX: int(1, 100).default(4),
  AUTH_LOCKOUT_FAILURES: int(1, 10_000).default(20),
  AUTH_LOCKOUT_SECONDS: int(1, 86_400).default(300),
  PBX_ALLOWED_CIDRS: z.string().optional(),
  LINK_RATE_PER_HOUR: int(1, 1_000_000).default(120),

  READINESS_KEY_CHECK_SECONDS: int(0, 300).default(5),
  METRICS_TOKEN_FILE: optionalText,
  METRICS_LISTEN: optionalText,

  CONSOLE_OIDC_ISSUER: url.optional(),
  CONSOLE_OIDC_CLIENT_ID: optionalText,
  CONSOLE_OIDC_CLIENT_SECRET_FILE: optionalText,
  CONSOLE_OIDC_SCOPES: z.string().trim().min(1).default('openid profile'),
  CONSOLE_IDLE_TIMEOUT: isoDuration.default(parseIsoDuration('PT15M') as IsoDuration),
  CONSOLE_SESSION_MAX_AGE: isoDuration.default(parseIsoDuration('PT8H') as IsoDuration),
  CONSOLE_LINK_REQUIRES_MFA: bool.default(false),
  CONSOLE_MFA_ACR_VALUES: z.string().optional(),
});

/**
 * How long after its start an upload may still be writing its object or committing: the longest
 * request plus a margin (a tenth of it, at least a second) for the commit that follows the body
 * and for clock differences between hosts. The orphan sweep's grace must exceed it, and it is
 * the grace `keys retire` waits before a master key version may go.
 */
export function longestUploadMs(requestTimeoutMs: number): number {
  return requestTimeoutMs + Math.max(1_000, Math.ceil(requestTimeoutMs / 10));
}

const envSchema = envObject.superRefine((e, ctx) => {
  if (e.HTTP_REQUEST_TIMEOUT_MS === 0) {
    ctx.addIssue({ code: 'custom', path: ['HTTP_REQUEST_TIMEOUT_MS'], message: '0 (no limit) leaves no ORPHAN_GRACE that outlasts every upload; set a limit shorter than ORPHAN_GRACE' });
    return;
  }
  const needed = longestUploadMs(e.HTTP_REQUEST_TIMEOUT_MS);
  if (durationMs(e.ORPHAN_GRACE) <= needed) {
    ctx.addIssue({
      code: 'custom', path: ['ORPHAN_GRACE'],
      message: `must be longer than HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS} ms) plus a margin, i.e. more than ${Math.ceil(needed / 1000)} s, or the orphan sweep could delete an upload still in progress; raise ORPHAN_GRACE or lower HTTP_REQUEST_TIMEOUT_MS`,
    });
  }
});

export type Env = z.infer<typeof envSchema>;

/** Every variable name the schema reads (deployment files are checked against it). */
export const ENV_VARIABLES: readonly string[] = Object.freeze(Object.keys(envObject.shape));

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function parseEnv(env: NodeJS.ProcessEnv): Env {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(envObject.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const result = envSchema.safeParse(picked);
  if (!result.success) {
    throw new ConfigError(issueWhere(result.error, 'environment'), result.error.issues[0]?.message ?? 'invalid value');
  }
  return result.data;
}

export function parseInterval(variable: string, text: string): IsoDuration | 'off' {
  if (text === 'off') return 'off';
  const d = parseIsoDuration(text);
  if (!d) throw new ConfigError(variable, `"${text}" is not an ISO-8601 duration (e.g. PT5M) or "off"`);
  return d;
}

export function resolveDataPath(dataDir: string, ...parts: string[]): string {
  return path.resolve(dataDir, ...parts);
}
