/**
 * The vault under test, run the way an operator runs it: `node bin/callvault.js serve`, with
 * environment pointing at a bench database, a data directory and (optionally) s3rver. Embedded
 * defaults supply TLS, keys and the development issuer, whose key the bench reads to mint tokens.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import type { Role } from '../../src/auth/permissions.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { freePort } from '../../src/db/embedded-postgres.js';
import { baseEnv, spawnNode, type Child } from './children.js';
import type { BenchDatabase } from './cluster.js';
import type { S3Target } from './s3rver.js';

export interface VaultOptions {
  readonly name: string;
  readonly database: BenchDatabase;
  readonly dataDir: string;
  readonly s3?: S3Target;
  /** What node runs: the compiled build's bin/callvault.js (bench/lib/build.ts), or src/cli/main.ts with tsx. */
  readonly bin: string;
  readonly nodeFlags?: readonly string[];
  readonly env?: Record<string, string>;
}

export interface VaultProcess {
  readonly name: string;
  readonly url: string;
  readonly ca: Buffer;
  readonly pid: number;
  readonly config: Config;
  readonly child: Child;
  token(role: Role, sub?: string): Promise<string>;
  /** Sum of callvault_key_service_calls_total over every operation and outcome. */
  keyServiceCalls(): Promise<number>;
  stop(): Promise<void>;
}

/** Limits that protect production from abuse would throttle a load test; the bench lifts them. */
const BENCH_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE: '1000000',
  LINK_RATE_PER_HOUR: '1000000',
  AUTH_LOCKOUT_FAILURES: '10000',
};

export function vaultEnv(opts: VaultOptions, port: number): Record<string, string> {
  const env: Record<string, string> = {
    ...baseEnv(), ...BENCH_LIMITS, NODE_ENV: 'production',
    CALLVAULT_DATA_DIR: opts.dataDir, DATABASE_URL: opts.database.url, DATABASE_ADMIN_URL: opts.database.adminUrl,
    PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off',
  };
  if (opts.s3) {
    Object.assign(env, {
      STORAGE_DRIVER: 's3', S3_BUCKET: opts.s3.bucket, S3_ENDPOINT: opts.s3.endpoint, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: opts.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: opts.s3.secretAccessKey,
    });
  }
  return { ...env, ...(opts.env ?? {}) };
}

export async function startVault(opts: VaultOptions): Promise<VaultProcess> {
  await mkdir(opts.dataDir, { recursive: true });
  const port = await freePort();
  const env = vaultEnv(opts, port);
  const config = loadConfig(env);
  const child = spawnNode({ args: [opts.bin, 'serve'], env, nodeFlags: opts.nodeFlags });
  const url = `https://127.0.0.1:${port}`;
  try {
    const ca = await waitReady(child, url, config.http.tls.cert.file);
    return vaultHandle(opts.name, url, ca, config, child);
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
}

function vaultHandle(name: string, url: string, ca: Buffer, config: Config, child: Child): VaultProcess {
  const agent = new Agent({ connect: { ca }, connections: 2 });
  const devKey = config.jwt.devSigningKey?.file;
  return {
    name, url, ca, pid: child.pid, config, child,
    async token(role, sub = `${role}-bench`) {
      if (!devKey) throw new Error('the vault has no development issuer');
      return mintDevToken(devKey, { tenant: 'bench', roles: [role], sub, ttlSeconds: 4 * 3600, issuer: config.jwt.issuer, audience: config.jwt.audience });
    },
    async keyServiceCalls() {
      const res = await request(`${url}/metrics`, { dispatcher: agent });
      const text = await res.body.text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const m = /^callvault_key_service_calls_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
        if (m?.[1]) sum += Number(m[1]);
      }
      return sum;
    },
    async stop() {
      await agent.close();
      await child.stop();
    },
  };
}

/** Polls /readyz until the vault answers 200; the TLS certificate exists by then. */
export async function waitReady(child: Child, url: string, certFile: string, timeoutMs = 60_000): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`the vault exited during start:\n${child.tail()}`);
    const ca = await readFile(certFile).catch(() => null);
    if (ca) {
      const agent = new Agent({ connect: { ca } });
      try {
        const res = await request(`${url}/readyz`, { dispatcher: agent });
        await res.body.dump();
        if (res.statusCode === 200) return ca;
        lastError = `readyz answered ${res.statusCode}`;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await agent.close();
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the vault did not become ready in ${timeoutMs} ms (${lastError}):\n${child.tail()}`);
}

export function objectsRoot(dataDir: string): string {
  return path.join(dataDir, 'objects');
}
