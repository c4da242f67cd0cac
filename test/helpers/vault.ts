/**
 * A whole vault for a test: a fresh database cloned from the template, a temporary data
 * directory, the chosen object store (fs, or s3rver over HTTP) and key provider (local, or the
 * real KMS client against the KMS double), all wired by the production composition root and
 * served over real HTTPS on port 0.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import type { Role } from '../../src/auth/permissions.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/http/logger.js';
import { listen, type RunningServer } from '../../src/http/server.js';
import { loadTls } from '../../src/http/tls.js';
import { createTestDatabase, type TestDatabase } from './cluster.js';
import { startKmsDouble } from './kms-double.js';
import { startS3rver } from './s3rver.js';

export { FIXTURE_DIR as FIXTURES, FIXTURE_FILES, fixturePath } from './fixtures.js';

export interface VaultOptions {
  readonly storage?: 'fs' | 's3';
  readonly keys?: 'local' | 'aws-kms';
  /** Extra environment variables for the config schema. */
  readonly env?: Record<string, string>;
  /** Rewrites the service role's DATABASE_URL, e.g. to route it through a fault-injecting proxy. */
  readonly databaseUrl?: (url: string) => string;
  /** Capture log lines (JSON) here instead of discarding them. */
  readonly logLines?: string[];
  /** A second replica of this vault: same database and data directory (keys, objects, secrets). */
  readonly replicaOf?: TestVault;
}

export interface TestVault {
  readonly url: string;
  readonly ca: Buffer;
  readonly config: Config;
  readonly deps: Deps;
  readonly app: Express;
  readonly server: RunningServer;
  readonly database: TestDatabase;
  readonly dataDir: string;
  readonly s3?: Awaited<ReturnType<typeof startS3rver>>;
  readonly kms?: Awaited<ReturnType<typeof startKmsDouble>>;
  token(role: Role | Role[], opts?: { tenant?: string; sub?: string; ttlSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startVault(opts: VaultOptions = {}): Promise<TestVault> {
  const database = opts.replicaOf?.database ?? await createTestDatabase();
  const dataDir = opts.replicaOf?.dataDir ?? await mkdtemp(path.join(os.tmpdir(), 'callvault-vault-'));
  const env: Record<string, string> = {
    CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: opts.databaseUrl?.(database.url) ?? database.url, DATABASE_ADMIN_URL: database.adminUrl,
    PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: opts.logLines ? 'info' : 'silent', RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off',
  };
  const s3 = opts.storage === 's3' ? await startS3rver() : undefined;
  if (s3) Object.assign(env, { STORAGE_DRIVER: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1' });
  const kms = opts.keys === 'aws-kms' ? await startKmsDouble() : undefined;
  if (kms) Object.assign(env, { KEY_PROVIDER: 'aws-kms', KMS_KEY_ID: kms.createKey(), KMS_ENDPOINT: kms.endpoint, KMS_REGION: 'us-east-1' });
  if (s3 || kms) {
    process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  }
  Object.assign(env, opts.env ?? {});
  const config = loadConfig(env);
  const sink = opts.logLines;
  const logger = createLogger(config.logLevel, sink ? new Writable({ write(chunk: Buffer, _e, cb) { sink.push(chunk.toString()); cb(); } }) : undefined);
  const deps = await createDeps(config, logger);
  const app = buildApp(deps);
  const tls = await loadTls(config.http.tls);
  const server = await listen(app, config, tls, logger, 0);
  const url = `https://127.0.0.1:${server.port}`;
  const devKey = config.jwt.devSigningKey?.file;
  return {
    url, ca: await readFile(config.http.tls.cert.file), config, deps, app, server, database, dataDir, s3, kms,
    token: async (role, t = {}) => {
      if (!devKey) throw new Error('this vault has no development issuer');
      return mintDevToken(devKey, {
        tenant: t.tenant ?? 'acme', roles: Array.isArray(role) ? role : [role], sub: t.sub ?? `${Array.isArray(role) ? role[0] : role}-1`,
        ttlSeconds: t.ttlSeconds, issuer: config.jwt.issuer, audience: config.jwt.audience,
      });
    },
    close: async () => {
      await server.close();
      await deps.close();
      await s3?.stop();
      await kms?.stop();
      if (opts.replicaOf) return;
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
