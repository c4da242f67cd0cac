import type { AwsKmsKeyProvider, KmsClientOptions } from './aws-kms.js';
import { LocalKeyProvider } from './local.js';

export type { DataKey, EncryptionContext, KeyCallHook, KeyCallOutcome, KeyOperation, KeyProvider } from './types.js';
export { KeyAccessError, KeyConfigError } from './errors.js';
export { canonicalContext } from './context.js';
export { LocalKeyProvider } from './local.js';
export type { AwsKmsKeyProvider, KmsClientOptions } from './aws-kms.js';
export { DataKeyCache, dataKeyCacheKey, type DataKeyCacheOptions } from './cache.js';
export { InstrumentedKeyProvider } from './instrumented.js';

export interface LocalKeyProviderOptions { kind: 'local'; dir: string; create: boolean }
export interface AwsKmsKeyProviderOptions extends KmsClientOptions {
  kind: 'aws-kms';
  keyId: string;
}
export type KeyProviderOptions = LocalKeyProviderOptions | AwsKmsKeyProviderOptions;

export function createKeyProvider(opts: LocalKeyProviderOptions): Promise<LocalKeyProvider>;
export function createKeyProvider(opts: AwsKmsKeyProviderOptions): Promise<AwsKmsKeyProvider>;
export function createKeyProvider(opts: KeyProviderOptions): Promise<LocalKeyProvider | AwsKmsKeyProvider>;
export async function createKeyProvider(opts: KeyProviderOptions): Promise<LocalKeyProvider | AwsKmsKeyProvider> {
  if (opts.kind === 'local') return LocalKeyProvider.open(opts.dir, { create: opts.create });
  const { kind: _kind, keyId: _keyId, ...clientOptions } = opts;
  // Loaded only when configured: the SDK is a large share of an idle vault's memory.
  const { AwsKmsKeyProvider: Provider, createKmsClient } = await import('./aws-kms.js');
  const client = createKmsClient(clientOptions);
  return new Provider({ client, defaultKeyId: opts.keyId });
}
