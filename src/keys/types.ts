/**
 * The key-provider capability: envelope encryption's data keys come from here. A provider never
 * sees recording bytes, only 256-bit data keys and the encryption context they are bound to.
 */

/** Bound to every wrapped data key; it is logged in plain text by KMS, so it never holds personal data. */
export interface EncryptionContext { tenant: string; recordingId: string }

/**
 * `plaintext` belongs to the caller, who wipes it (`fill(0)`) once the object's cipher is set up.
 * `keyRef` names the master key (and version) that wrapped it, e.g. 'local:v2' or a KMS key ARN.
 */
export interface DataKey { plaintext: Buffer; wrapped: Buffer; keyRef: string }

export interface KeyProvider {
  readonly kind: 'local' | 'aws-kms';
  /** A fresh 256-bit data key, wrapped under the current master key (or the tenant's own KMS key when given). */
  generateDataKey(ctx: EncryptionContext, opts?: { masterKeyId?: string }): Promise<DataKey>;
  /** Throws KeyAccessError (or DependencyError('keys') when the service is unreachable / times out). */
  decryptDataKey(wrapped: Buffer, ctx: EncryptionContext, keyRef: string): Promise<Buffer>;
  /** Re-wrap under the current master (or opts.masterKeyId) without exposing the object; KMS uses ReEncrypt. */
  rewrap(
    wrapped: Buffer,
    ctx: EncryptionContext,
    keyRef: string,
    opts?: { masterKeyId?: string },
  ): Promise<{ wrapped: Buffer; keyRef: string }>;
  /** keyRef that generateDataKey would use now. */
  currentKeyRef(opts?: { masterKeyId?: string }): string;
  /** Resolves when the key service is usable; DependencyError('keys', …) otherwise. */
  ping(): Promise<void>;
  /** Releases connections and wipes in-memory master keys; the provider is unusable afterwards. */
  close?(): Promise<void>;
}

export type KeyOperation = 'generate' | 'decrypt' | 'rewrap';
export type KeyCallOutcome = 'ok' | 'error';
export type KeyCallHook = (operation: KeyOperation, outcome: KeyCallOutcome) => void;
