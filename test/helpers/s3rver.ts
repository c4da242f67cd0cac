import type { S3Client } from '@aws-sdk/client-s3';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client, S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/s3-store.js';

/** The slice of s3rver's (untyped, CommonJS) API used here; see node_modules/s3rver/lib/s3rver.js. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;

export interface S3rverOptions {
  /** Reuse a port (0 = pick a free one). */
  port?: number;
  /** Reuse a data directory; a fresh temp directory otherwise (removed by destroy()). */
  directory?: string;
  bucket?: string;
  /** SDK attempts per request; small so that tests against a stopped server fail fast. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  store?: Omit<S3ObjectStoreOptions, 'client' | 'bucket'>;
}

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  port: number;
  directory: string;
  client: S3Client;
  store: S3ObjectStore;
  /** Stops serving at once: open connections are cut, as a crashed storage server would cut them. */
  stop(): Promise<void>;
  /** Starts serving again on the same port and directory (after stop()); client and store keep working. */
  restart(): Promise<void>;
  /** stop() if running, then remove the directory if startS3rver created it. */
  destroy(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 with one bucket and returns a client (path-style, credentials
 * S3RVER/S3RVER, region us-east-1) and an S3ObjectStore on it.
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? 'callvault-test';
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'callvault-s3rver-')));

  const launch = async (port: number): Promise<S3rverInstance> => {
    const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true, configureBuckets: [{ name: bucket }] });
    await server.run();
    return server;
  };

  let running: S3rverInstance | undefined = await launch(options.port ?? 0);
  const address = running.httpServer?.address();
  if (address === null || address === undefined || typeof address === 'string') throw new Error('s3rver did not listen on TCP');
  const port = address.port;
  const endpoint = `http://127.0.0.1:${port}`;

  const client = createS3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: options.maxAttempts ?? 2,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
  });
  const store = new S3ObjectStore({ client, bucket, ...options.store });

  const stop = async (): Promise<void> => {
    const server = running;
    if (!server) return;
    running = undefined;
    server.httpServer?.closeAllConnections();
    await server.close();
  };

  return {
    endpoint,
    bucket,
    port,
    directory,
    client,
    store,
    stop,
    async restart() {
      if (running) throw new Error('s3rver is already running');
      running = await launch(port);
    },
    async destroy() {
      await stop();
      client.destroy();
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}
