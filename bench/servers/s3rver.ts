/**
 * s3rver in its own process for the bench (s3rver's CPU work must not share the load
 * generator's event loop). Prints `{"listening":<port>}` once it accepts connections.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';

interface S3rverInstance { run(): Promise<unknown>; close(): Promise<void>; httpServer?: Server }
type S3rverConstructor = new (options: {
  address: string; port: number; directory: string; silent: boolean; configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
const directory = process.env.S3RVER_DIR;
const bucket = process.env.S3RVER_BUCKET;
if (!directory || !bucket) throw new Error('S3RVER_DIR and S3RVER_BUCKET are required');

const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
await server.run();
const address = server.httpServer?.address();
if (!address || typeof address === 'string') throw new Error('s3rver did not listen on TCP');
process.stdout.write(`${JSON.stringify({ listening: address.port })}\n`);
process.once('SIGTERM', () => {
  server.httpServer?.closeAllConnections();
  void server.close().then(() => process.exit(0));
});
