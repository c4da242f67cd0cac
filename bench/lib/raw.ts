import { spawnServer, type Child } from './children.js';
import type { S3Target } from './s3rver.js';
import { objectsRoot, type VaultProcess } from './vault.js';

export interface RawServer {
  readonly url: string;
  readonly ca: Buffer;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The raw-PUT baseline server on the vault's own certificate and store (bench/servers/raw-put.ts). */
export async function startRawServer(vault: VaultProcess, s3?: S3Target, nodeFlags: readonly string[] = []): Promise<RawServer> {
  const tls = vault.config.http.tls;
  const env: Record<string, string> = { TLS_CERT_FILE: tls.cert.file, TLS_KEY_FILE: tls.key.file };
  if (s3) {
    Object.assign(env, {
      RAW_STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
  } else {
    Object.assign(env, { RAW_STORE: 'fs', RAW_FS_ROOT: objectsRoot(vault.config.dataDir) });
  }
  const { child, port }: { child: Child; port: number } = await spawnServer('bench/servers/raw-put.ts', env, nodeFlags);
  return { url: `https://127.0.0.1:${port}`, ca: vault.ca, pid: child.pid, stop: () => child.stop() };
}

export interface SinkServer {
  /** `PUT` here reads the body and discards it. */
  readonly nullUrl: string;
  /** `PUT` here writes the body to a file and fsyncs it. */
  readonly durableUrl: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The null and durable sinks (bench/servers/sink.ts) on the vault's certificate; files go under `dir`. */
export async function startSinkServer(vault: VaultProcess, dir: string, nodeFlags: readonly string[] = []): Promise<SinkServer> {
  const tls = vault.config.http.tls;
  const env = { TLS_CERT_FILE: tls.cert.file, TLS_KEY_FILE: tls.key.file, SINK_DIR: dir };
  const { child, port } = await spawnServer('bench/servers/sink.ts', env, nodeFlags);
  const base = `https://127.0.0.1:${port}`;
  return { nullUrl: `${base}/null`, durableUrl: `${base}/durable`, pid: child.pid, stop: () => child.stop() };
}
