import type { LocalKeyProvider } from './local.js';
import type { DataKey, EncryptionContext, KeyProvider } from './types.js';
import type { KeyVersionStore } from './versions.js';

/**
 * The local provider as the vault uses it: new data keys (and rewraps) go under the version that
 * key_versions holds active, read from the database on every call, never under whatever file a
 * process happened to load last. A replica that has not seen a rotation therefore still wraps
 * under the new version at once, loading its file on first use.
 */
export class ActiveVersionKeyProvider implements KeyProvider {
  readonly kind = 'local' as const;

  constructor(private readonly inner: LocalKeyProvider, private readonly versions: Pick<KeyVersionStore, 'active' | 'adoptActive'>) {}

  async generateDataKey(ctx: EncryptionContext, _opts?: { masterKeyId?: string }): Promise<DataKey> {
    return this.inner.generateDataKeyUnder(await this.activeKeyRef(), ctx);
  }

  decryptDataKey(wrapped: Buffer, ctx: EncryptionContext, keyRef: string): Promise<Buffer> {
    return this.inner.decryptDataKey(wrapped, ctx, keyRef);
  }

  async rewrap(wrapped: Buffer, ctx: EncryptionContext, keyRef: string, _opts?: { masterKeyId?: string }): Promise<{ wrapped: Buffer; keyRef: string }> {
    return this.inner.rewrapUnder(wrapped, ctx, keyRef, await this.activeKeyRef());
  }

  /** The newest version this process has loaded; what new data keys use is activeKeyRef(). */
  currentKeyRef(_opts?: { masterKeyId?: string }): string {
    return this.inner.currentKeyRef();
  }

  /** Before any version is recorded (first start, upgrade), the newest file on disk becomes the active one. */
  async activeKeyRef(): Promise<string> {
    return (await this.versions.active()) ?? this.versions.adoptActive(this.inner.currentKeyRef());
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
