/**
 * The baselines of the ingest figures: an HTTPS server on the vault's own certificate and
 * listener settings that does nothing with a PUT body but receive it.
 * - `PUT /null` reads the body and discards it: the cost of TLS and HTTP alone.
 * - `PUT /durable` writes the body, in the chunks it arrives in, to a new file with node's own
 *   fs.WriteStream (one write in flight, the chunks that queue behind it gathered into one
 *   writev) and fsyncs it before answering: the least any durable store must do.
 * Files are removed after the answer, off the clock. Prints `{"listening":<port>}`.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { listenAndAnnounce } from './announce.js';

const dir = process.env.SINK_DIR;
const cert = process.env.TLS_CERT_FILE;
const key = process.env.TLS_KEY_FILE;
if (!dir || !cert || !key) throw new Error('SINK_DIR, TLS_CERT_FILE and TLS_KEY_FILE are required');
await mkdir(dir, { recursive: true });
/** The vault's write buffer per upload (src/storage/file-sink.ts), so both queue the same bytes. */
const BUFFER_BYTES = 1024 * 1024;

async function durable(req: IncomingMessage): Promise<{ file: string; sizeBytes: number }> {
  const file = path.join(dir ?? '', randomUUID());
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600, flush: true, highWaterMark: BUFFER_BYTES });
  await pipeline(req, out);
  return { file, sizeBytes: out.bytesWritten };
}

async function discard(req: IncomingMessage): Promise<{ sizeBytes: number }> {
  let sizeBytes = 0;
  for await (const chunk of req) sizeBytes += (chunk as Buffer).length;
  return { sizeBytes };
}

const server = https.createServer({
  cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2', maxHeaderSize: 16 * 1024, keepAliveTimeout: 5_000,
}, (req, res) => {
  const sink = req.method !== 'PUT' ? null : req.url === '/null' ? discard : req.url === '/durable' ? durable : null;
  if (!sink) {
    res.writeHead(404).end();
    return;
  }
  sink(req).then((result: { sizeBytes: number; file?: string }) => {
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sizeBytes: result.sizeBytes }));
    if (result.file) void unlink(result.file).catch(() => undefined);
  }, (err: unknown) => {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).message));
  });
});
listenAndAnnounce(server);
