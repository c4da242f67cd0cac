/**
 * An in-process stand-in for AWS KMS that speaks its real wire protocol (JSON 1.1 over HTTP:
 * `POST /`, `X-Amz-Target: TrentService.<Operation>`, base64 blobs), so tests drive the real
 * @aws-sdk/client-kms. SigV4 signatures are not checked, but an Authorization header is required.
 *
 * Ciphertext blobs: 0x01 | 16-byte key id | 12-byte nonce | ciphertext | 16-byte tag, AES-256-GCM
 * under the key's in-memory secret with the key id and the canonical encryption context as
 * associated data — so a wrong context or a flipped bit fails as InvalidCiphertextException.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const ARN_PREFIX = `arn:aws:kms:${REGION}:${ACCOUNT}:key/`;
const JSON_TYPE = 'application/x-amz-json-1.1';
const BLOB_FORMAT = 0x01;
const ID_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type FaultKind = 'internal' | 'throttle' | 'hang';

export interface KmsDouble {
  endpoint: string;
  /** A new enabled symmetric key; returns its ARN. */
  createKey(): string;
  disableKey(arn: string): void;
  enableKey(arn: string): void;
  /** Requests received per operation name (e.g. `calls.Decrypt`), failed ones included. */
  calls: Record<string, number>;
  /** The next n requests, whatever their operation, fail this way ('hang' never answers). */
  failNext(n: number, kind: FaultKind): void;
  /** Delay before every answer. */
  setLatency(ms: number): void;
  stop(): Promise<void>;
}

interface DoubleKey { id: string; arn: string; secret: Buffer; enabled: boolean; createdAt: Date; description: string }
type Json = Record<string, unknown>;

class KmsFault extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

class KeyStore {
  readonly keys = new Map<string, DoubleKey>();

  create(description = ''): DoubleKey {
    const id = randomUUID();
    const key = { id, arn: ARN_PREFIX + id, secret: randomBytes(32), enabled: true, createdAt: new Date(), description };
    this.keys.set(id, key);
    return key;
  }

  /** Accepts a key ARN or a bare key id, as KMS does. */
  resolve(keyId: unknown): DoubleKey {
    if (typeof keyId !== 'string' || keyId === '') throw new KmsFault('ValidationException', 'KeyId is required');
    const id = keyId.startsWith(ARN_PREFIX) ? keyId.slice(ARN_PREFIX.length) : keyId;
    const key = this.keys.get(id);
    if (key === undefined) throw new KmsFault('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  usable(keyId: unknown): DoubleKey {
    const key = this.resolve(keyId);
    if (!key.enabled) throw new KmsFault('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  seal(key: DoubleKey, plaintext: Buffer, context: unknown): Buffer {
    const idBytes = Buffer.from(key.id.replace(/-/g, ''), 'hex');
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.secret, nonce);
    cipher.setAAD(Buffer.concat([idBytes, canonical(context)]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(BLOB_FORMAT), idBytes, nonce, body, cipher.getAuthTag()]);
  }

  /** Checks in the order KMS reports them: named key, blob shape, key match, key state, authenticity. */
  open(blobB64: unknown, context: unknown, requestedKeyId: unknown): { key: DoubleKey; plaintext: Buffer } {
    const requested = requestedKeyId === undefined ? undefined : this.resolve(requestedKeyId);
    const blob = decodeBlob(blobB64, 'CiphertextBlob');
    const invalid = new KmsFault('InvalidCiphertextException', 'The ciphertext is invalid or its context does not match.');
    if (blob.length < 1 + ID_BYTES + NONCE_BYTES + TAG_BYTES || blob[0] !== BLOB_FORMAT) throw invalid;
    const idBytes = blob.subarray(1, 1 + ID_BYTES);
    const key = this.keys.get(formatUuid(idBytes));
    if (key === undefined) throw invalid;
    if (requested !== undefined && requested.id !== key.id) {
      throw new KmsFault('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
    }
    if (!key.enabled) throw new KmsFault('DisabledException', `${key.arn} is disabled.`);
    const nonce = blob.subarray(1 + ID_BYTES, 1 + ID_BYTES + NONCE_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key.secret, nonce);
    decipher.setAAD(Buffer.concat([idBytes, canonical(context)]));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    try {
      const plaintext = Buffer.concat([decipher.update(blob.subarray(1 + ID_BYTES + NONCE_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
      return { key, plaintext };
    } catch {
      throw invalid;
    }
  }
}

function canonical(context: unknown): Buffer {
  if (context === undefined) return Buffer.from('{}');
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new KmsFault('ValidationException', 'EncryptionContext must be a map of strings');
  }
  const entries = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.some(([, v]) => typeof v !== 'string')) throw new KmsFault('ValidationException', 'EncryptionContext values must be strings');
  return Buffer.from(JSON.stringify(Object.fromEntries(entries)));
}

function decodeBlob(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value === '') throw new KmsFault('ValidationException', `${field} is required`);
  return Buffer.from(value, 'base64');
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function dataKeyBytes(input: Json): number {
  if (input.KeySpec === 'AES_256') return 32;
  if (input.KeySpec === 'AES_128') return 16;
  const n = input.NumberOfBytes;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1024) return n;
  throw new KmsFault('ValidationException', 'Specify either KeySpec or NumberOfBytes');
}

function metadata(key: DoubleKey): Json {
  return {
    AWSAccountId: ACCOUNT, KeyId: key.id, Arn: key.arn, CreationDate: key.createdAt.getTime() / 1000,
    Enabled: key.enabled, Description: key.description, KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.enabled ? 'Enabled' : 'Disabled', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER',
    KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], MultiRegion: false,
  };
}

const b64 = (buf: Buffer): string => buf.toString('base64');

function operations(store: KeyStore): Record<string, (input: Json) => Json> {
  return {
    GenerateDataKey(input) {
      const key = store.usable(input.KeyId);
      const plaintext = randomBytes(dataKeyBytes(input));
      const blob = store.seal(key, plaintext, input.EncryptionContext);
      return { KeyId: key.arn, Plaintext: b64(plaintext), CiphertextBlob: b64(blob) };
    },
    Encrypt(input) {
      const key = store.usable(input.KeyId);
      const blob = store.seal(key, decodeBlob(input.Plaintext, 'Plaintext'), input.EncryptionContext);
      return { KeyId: key.arn, CiphertextBlob: b64(blob), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt(input) {
      const { key, plaintext } = store.open(input.CiphertextBlob, input.EncryptionContext, input.KeyId);
      return { KeyId: key.arn, Plaintext: b64(plaintext), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    ReEncrypt(input) {
      const destination = store.usable(input.DestinationKeyId);
      const source = store.open(input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId);
      const blob = store.seal(destination, source.plaintext, input.DestinationEncryptionContext);
      return {
        CiphertextBlob: b64(blob), SourceKeyId: source.key.arn, KeyId: destination.arn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    DescribeKey(input) {
      return { KeyMetadata: metadata(store.resolve(input.KeyId)) };
    },
    CreateKey(input) {
      return { KeyMetadata: metadata(store.create(typeof input.Description === 'string' ? input.Description : '')) };
    },
  };
}

function send(res: http.ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID() });
  res.end(text);
}

function sendFault(res: http.ServerResponse, fault: KmsFault): void {
  send(res, fault.status, { __type: fault.type, message: fault.message });
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseRequest(req: http.IncomingMessage, body: string): { op: string; input: Json } {
  if (req.method !== 'POST' || req.url !== '/') throw new KmsFault('UnknownOperationException', 'Only POST / is served');
  if (req.headers.authorization === undefined) {
    throw new KmsFault('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  }
  if (!(req.headers['content-type'] ?? '').startsWith(JSON_TYPE)) {
    throw new KmsFault('SerializationException', `Content-Type must be ${JSON_TYPE}`);
  }
  const target = req.headers['x-amz-target'];
  const op = typeof target === 'string' && target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
  let input: unknown;
  try {
    input = body === '' ? {} : JSON.parse(body);
  } catch {
    throw new KmsFault('SerializationException', 'The request body is not JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KmsFault('SerializationException', 'Expected a JSON object');
  return { op, input: input as Json };
}

export async function startKmsDouble(): Promise<KmsDouble> {
  const store = new KeyStore();
  const ops = operations(store);
  const calls: Record<string, number> = {};
  const faults: FaultKind[] = [];
  let latencyMs = 0;

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const target = req.headers['x-amz-target'];
      const name = typeof target === 'string' ? target.replace(/^TrentService\./, '') : '(none)';
      calls[name] = (calls[name] ?? 0) + 1;
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const fault = faults.shift();
      if (fault === 'hang') return;
      if (fault === 'internal') return sendFault(res, new KmsFault('KMSInternalException', 'Injected internal failure', 500));
      if (fault === 'throttle') return sendFault(res, new KmsFault('ThrottlingException', 'Rate exceeded'));
      try {
        const { op, input } = parseRequest(req, body);
        const handler = ops[op];
        if (handler === undefined) throw new KmsFault('UnknownOperationException', `Unsupported operation ${op}`);
        send(res, 200, handler(input));
      } catch (err) {
        sendFault(res, err instanceof KmsFault ? err : new KmsFault('KMSInternalException', String(err), 500));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const byArn = (arn: string): DoubleKey => store.resolve(arn);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    createKey: () => store.create().arn,
    disableKey: (arn) => { byArn(arn).enabled = false; },
    enableKey: (arn) => { byArn(arn).enabled = true; },
    failNext: (n, kind) => { for (let i = 0; i < n; i++) faults.push(kind); },
    setLatency: (ms) => { latencyMs = ms; },
    stop: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      // Hung requests would otherwise hold close() open forever.
      server.closeAllConnections();
    }),
  };
}
