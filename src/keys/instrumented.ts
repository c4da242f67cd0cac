import type { DataKey, EncryptionContext, KeyCallHook, KeyOperation, KeyProvider } from './types.js';

/**
 * Reports every generate / decrypt / rewrap call and its outcome to `onCall`, so that metrics can
 * count key-service traffic without the providers knowing about metrics.
 */
export class InstrumentedKeyProvider implements KeyProvider {
  readonly kind: KeyProvider['kind'];

  constructor(private readonly inner: KeyProvider, private readonly onCall: KeyCallHook) {
    this.kind = inner.kind;
  }

  generateDataKey(ctx: EncryptionContext, opts?: { masterKeyId?: string }): Promise<DataKey> {
    return this.observe('generate', () => this.inner.generateDataKey(ctx, opts));
  }

  decryptDataKey(wrapped: Buffer, ctx: EncryptionContext, keyRef: string): Promise<Buffer> {
    return this.observe('decrypt', () => this.inner.decryptDataKey(wrapped, ctx, keyRef));
  }

  rewrap(
    wrapped: Buffer,
    ctx: EncryptionContext,
    keyRef: string,
    opts?: { masterKeyId?: string },
  ): Promise<{ wrapped: Buffer; keyRef: string }> {
    return this.observe('rewrap', () => this.inner.rewrap(wrapped, ctx, keyRef, opts));
  }

  currentKeyRef(opts?: { masterKeyId?: string }): string {
    return this.inner.currentKeyRef(opts);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async observe<T>(operation: KeyOperation, call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      this.report(operation, 'error');
      throw err;
    }
    this.report(operation, 'ok');
    return result;
  }

  /** A failing metrics hook must not turn a successful key operation into a failed request. */
  private report(operation: KeyOperation, outcome: 'ok' | 'error'): void {
    try {
      this.onCall(operation, outcome);
    } catch {
      // Deliberately ignored: counting is best effort, the key operation's result stands.
    }
  }
}
