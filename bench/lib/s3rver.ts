import { mkdir } from 'node:fs/promises';
import { spawnServer, type Child } from './children.js';

/** Where an S3-compatible store is, as the vault and the raw server need it. */
export interface S3Target {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3rverProcess extends S3Target {
  readonly child: Child;
  stop(): Promise<void>;
}

/** s3rver in a child process, with one bucket, on a free port; its files live under `dir`. */
export async function startS3rver(dir: string): Promise<S3rverProcess> {
  await mkdir(dir, { recursive: true });
  const bucket = 'callvault-bench';
  const { child, port } = await spawnServer('bench/servers/s3rver.ts', { S3RVER_DIR: dir, S3RVER_BUCKET: bucket });
  return {
    endpoint: `http://127.0.0.1:${port}`, bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', child,
    stop: () => child.stop(),
  };
}
