import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { AppError, DependencyError } from '../errors.js';
import { contextPairs } from './context.js';
import { KeyAccessError } from './errors.js';
import type { DataKey, EncryptionContext, KeyProvider } from './types.js';

const DATA_KEY_BYTES = 32;

/**
 * Errors that say this key cannot be used for this ciphertext (wrong context, foreign or tampered
 * blob, missing, disabled or pending-deletion key, no permission): retrying does not help.
 * Everything else — timeouts, network errors, throttling, 5xx, bad credentials — means the service
 * is not usable right now and becomes DependencyError('keys').
 */
const KEY_ACCESS_ERRORS = new Set([
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'NotFoundException',
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidKeyUsageException',
]);

export interface KmsClientOptions {
  region: string;
  /** For KMS-compatible services and VPC endpoints; the SDK's regional endpoint otherwise. */
  endpoint?: string;
  /** Defaults to the SDK's provider chain (environment, profile, container or instance role). */
  credentials?: KMSClientConfig['credentials'];
  /** Total attempts including the first; the SDK's standard retry mode with backoff. */
  maxAttempts: number;
  connectTimeoutMs: number;
  /** Per attempt, from sending the request to receiving the response. */
  requestTimeoutMs: number;
}

export function createKmsClient(opts: KmsClientOptions): KMSClient {
  return new KMSClient({
    region: opts.region,
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    maxAttempts: opts.maxAttempts,
    // These options make the client build its NodeHttpHandler with them. Without
    // throwOnRequestTimeout the request timeout only logs a warning and a hung call waits forever.
    requestHandler: {
      connectionTimeout: opts.connectTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}

/**
 * Data keys from AWS KMS (GenerateDataKey / Decrypt / ReEncrypt), bound to the encryption context
 * `{tenant, recordingId}`. keyRef is the key ARN KMS reports. currentKeyRef() returns the
 * configured key id verbatim, so configure a full key ARN if keyRefs are to be compared with it.
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly kind = 'aws-kms' as const;
  private readonly client: KMSClient;
  private readonly defaultKeyId: string;

  constructor(opts: { client: KMSClient; defaultKeyId: string }) {
    if (opts.defaultKeyId === '') throw new TypeError('defaultKeyId is required');
    this.client = opts.client;
    this.defaultKeyId = opts.defaultKeyId;
  }

  currentKeyRef(opts?: { masterKeyId?: string }): string {
    return opts?.masterKeyId ?? this.defaultKeyId;
  }

  async generateDataKey(ctx: EncryptionContext, opts?: { masterKeyId?: string }): Promise<DataKey> {
    const out = await this.call('generate', () => this.client.send(new GenerateDataKeyCommand({
      KeyId: this.currentKeyRef(opts),
      KeySpec: 'AES_256',
      EncryptionContext: contextPairs(ctx),
    })));
    const plaintext = takePlaintext(out.Plaintext);
    if (out.CiphertextBlob === undefined || out.KeyId === undefined) {
      plaintext.fill(0);
      throw malformed('GenerateDataKey');
    }
    return { plaintext, wrapped: Buffer.from(out.CiphertextBlob), keyRef: out.KeyId };
  }

  async decryptDataKey(wrapped: Buffer, ctx: EncryptionContext, keyRef: string): Promise<Buffer> {
    const out = await this.call('decrypt', () => this.client.send(new DecryptCommand({
      CiphertextBlob: wrapped,
      KeyId: keyRef,
      EncryptionContext: contextPairs(ctx),
    })));
    return takePlaintext(out.Plaintext);
  }

  async rewrap(
    wrapped: Buffer,
    ctx: EncryptionContext,
    keyRef: string,
    opts?: { masterKeyId?: string },
  ): Promise<{ wrapped: Buffer; keyRef: string }> {
    const pairs = contextPairs(ctx);
    const out = await this.call('rewrap', () => this.client.send(new ReEncryptCommand({
      CiphertextBlob: wrapped,
      SourceKeyId: keyRef,
      SourceEncryptionContext: pairs,
      DestinationKeyId: this.currentKeyRef(opts),
      DestinationEncryptionContext: pairs,
    })));
    if (out.CiphertextBlob === undefined || out.KeyId === undefined) throw malformed('ReEncrypt');
    return { wrapped: Buffer.from(out.CiphertextBlob), keyRef: out.KeyId };
  }

  /** Readiness: the default key must be reachable and enabled; any failure is DependencyError. */
  async ping(): Promise<void> {
    let enabled: boolean | undefined;
    try {
      const out = await this.client.send(new DescribeKeyCommand({ KeyId: this.defaultKeyId }));
      enabled = out.KeyMetadata?.Enabled;
    } catch (err) {
      throw new DependencyError('keys', `The key service is unavailable (${errorName(err)})`, err);
    }
    if (enabled !== true) throw new DependencyError('keys', 'The default KMS key is not enabled');
  }

  /** Destroys the KMS client given to the constructor. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw toKeyError(err, operation);
    }
  }
}

/** Copies the key out of the SDK's response and zero-fills the response's buffer. */
function takePlaintext(plaintext: Uint8Array | undefined): Buffer {
  if (plaintext === undefined) throw malformed('a data key response');
  try {
    if (plaintext.length !== DATA_KEY_BYTES) throw malformed('a data key response');
    return Buffer.from(plaintext);
  } finally {
    plaintext.fill(0);
  }
}

function malformed(what: string): DependencyError {
  return new DependencyError('keys', `The key service sent a malformed answer to ${what}`);
}

function toKeyError(err: unknown, operation: string): AppError {
  if (err instanceof AppError) return err;
  const name = errorName(err);
  if (KEY_ACCESS_ERRORS.has(name)) {
    return new KeyAccessError(`The key service refused to ${operation} the data key (${name})`, 'key_access_denied', err);
  }
  return new DependencyError('keys', `The key service is unavailable (${name})`, err);
}

/** The SDK's error name, or the socket error code (ECONNREFUSED, …) for network failures. */
function errorName(err: unknown): string {
  if (!(err instanceof Error)) return 'UnknownError';
  const code = (err as NodeJS.ErrnoException).code;
  return err.name === 'Error' && typeof code === 'string' ? code : err.name;
}
