/**
 * The baseline of the upload figures: a minimal HTTPS server, with the vault's own TLS
 * certificate and listener settings, that streams each PUT body straight into ObjectStore.put
 * of the same store the vault writes to. No authentication, hashing, sniffing, encryption or
 * database: what is left is the cost of moving the bytes. Prints `{"listening":<port>}`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createObjectStore, type ObjectStoreConfig } from '../../src/storage/index.js';
import { listenAndAnnounce } from './announce.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

function storeConfig(): ObjectStoreConfig {
  if (process.env.RAW_STORE === 's3') {
    return {
      driver: 's3', bucket: required('S3_BUCKET'), region: 'us-east-1', endpoint: required('S3_ENDPOINT'), forcePathStyle: true,
      maxAttempts: 3, connectTimeoutMs: 3_000, requestTimeoutMs: 60_000,
    };
  }
  return { driver: 'fs', root: required('RAW_FS_ROOT') };
}

const store = await createObjectStore(storeConfig());
const server = https.createServer({
  cert: readFileSync(required('TLS_CERT_FILE')), key: readFileSync(required('TLS_KEY_FILE')), minVersion: 'TLSv1.2',
  maxHeaderSize: 16 * 1024, keepAliveTimeout: 5_000,
}, (req, res) => {
  if (req.method !== 'PUT') {
    res.writeHead(405).end();
    return;
  }
  store.put(`recordings/raw-bench/${randomUUID()}`, req).then(({ sizeBytes }) => {
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sizeBytes }));
  }, (err: unknown) => {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).message));
  });
});
listenAndAnnounce(server);
