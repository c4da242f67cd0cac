import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { AwsKmsKeyProvider, createKmsClient } from './aws-kms.js';
import { LocalKeyProvider } from './local.js';

export type { DataKey, EncryptionContext, KeyCallHook, KeyCallOutcome, KeyOperation, KeyProvider } from './types.js';
export { KeyAccessError, KeyConfigError } from './errors.js';
export { canonicalContext } from './context.js';
export { LocalKeyProvider } from './local.js';
export { AwsKmsKeyProvider, createKmsClient, type KmsClientOptions } from './aws-kms.js';
export { DataKeyCache, dataKeyCacheKey, type DataKeyCacheOptions } from './cache.js';
export { InstrumentedKeyProvider } from './instrumented.js';

export interface LocalKeyProviderOptions { kind: 'local'; dir: string; create: boolean }
export interface AwsKmsKeyProviderOptions {
  kind: 'aws-kms';
  keyId: string;
  region: string;
  endpoint?: string;
  /** Defaults to the SDK's provider chain. */
  credentials?: KMSClientConfig['credentials'];
  maxAttempts: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}
export type KeyProviderOptions = LocalKeyProviderOptions | AwsKmsKeyProviderOptions;

export function createKeyProvider(opts: LocalKeyProviderOptions): Promise<LocalKeyProvider>;
export function createKeyProvider(opts: AwsKmsKeyProviderOptions): Promise<AwsKmsKeyProvider>;
export function createKeyProvider(opts: KeyProviderOptions): Promise<LocalKeyProvider | AwsKmsKeyProvider>;
export async function createKeyProvider(opts: KeyProviderOptions): Promise<LocalKeyProvider | AwsKmsKeyProvider> {
  if (opts.kind === 'local') return LocalKeyProvider.open(opts.dir, { create: opts.create });
  const client = createKmsClient({
    region: opts.region,
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    maxAttempts: opts.maxAttempts,
    connectTimeoutMs: opts.connectTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  return new AwsKmsKeyProvider({ client, defaultKeyId: opts.keyId });
}
